"""The matching engine: rules, stages, assignment and explanations, run as SQL on DuckDB."""
