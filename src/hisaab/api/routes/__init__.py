"""Routes, one module per area; each route declares its permission and calls one service."""
