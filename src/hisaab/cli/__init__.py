"""The `hisaab` command line: one module per command group, all over the same services."""
