"""The HTTP API: app factory, the standard error body, dependencies, and routes per area."""
