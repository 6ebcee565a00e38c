"""The audit trail: append-only and hash-chained, so any edit or deletion is detectable."""
