"""Reconciliation runs: reading both sides, running the engine, and keeping what it found."""
