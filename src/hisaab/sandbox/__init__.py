"""Sandbox data: simulated PG exports and bank statements with known faults, and scoring.

`simulate` builds a PG export, a bank statement (in one of several bank layouts) and a truth
file saying, for every record, which match or exception a perfect reconciliation reports.
`evaluate` scores a reconciliation's matches and exceptions against that truth.
"""

from __future__ import annotations
