"""The durable job queue: rows in the application database, claimed by workers."""
