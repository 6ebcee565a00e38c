"""The Overview: the operations dashboard's KPIs, read from the daily pre-aggregates.

refresh.py     rebuilds `kpi_daily` and `kpi_exceptions_daily` for given dates
repository.py  every query the Overview runs (on the two aggregates and connectors)
service.py     the five answers: overview, pipeline, sources, connector health, top reasons
cache.py       a small in-process TTL cache of those answers
"""
