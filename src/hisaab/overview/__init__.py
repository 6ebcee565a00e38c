"""The Overview: the operations dashboard's KPIs, read from the daily pre-aggregate.

refresh.py     rebuilds `kpi_daily` from `transactions` for a range of business dates
repository.py  every query the Overview runs (on kpi_daily, exceptions and connectors)
service.py     the five answers: overview, pipeline, sources, connector health, top reasons
cache.py       a small in-process TTL cache of those answers
"""
