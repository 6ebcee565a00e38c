"""Who may do what: passwords, tokens, and the roles and permissions of the ops platform."""
