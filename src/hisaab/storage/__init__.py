"""The application database: engine and sessions, models, and migrations (SQLite or PostgreSQL)."""
