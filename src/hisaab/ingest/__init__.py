"""Reading statements and exports of every source into canonical records."""
