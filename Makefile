# Hisaab developer entry points. `make demo` and `make test` work on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
HISAAB := $(VENV)/bin/hisaab
DEMO   ?= demo-out
PG_BIN ?= /usr/lib/postgresql/15/bin

.PHONY: install pg-server redis-server demo test lint format bench bench-realtime bench-api bench-settle clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: install
	$(HISAAB) simulate --rows 20000 --seed 7 --bank-format hdfc --out $(DEMO)/data
	$(HISAAB) reconcile --pg $(DEMO)/data/pg.csv --bank $(DEMO)/data/bank.csv --out $(DEMO)/results
	$(HISAAB) evaluate --truth $(DEMO)/data/truth.csv --results $(DEMO)/results
	$(HISAAB) demo --out $(DEMO)/server

# The tests start a real PostgreSQL server; its binaries come from Debian's package.
pg-server:
	@test -x $(PG_BIN)/initdb || { apt-get update -qq && apt-get install -y -qq postgresql; }

# ... and a real Redis server (Debian's package; not in the base image).
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

test: install pg-server redis-server
	HISAAB_PG_BIN=$(PG_BIN) $(PY) -m pytest -n 2 -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

# Measures the product as users install it: a separate venv without the dev extras.
# The Overview benchmark serves the API from that install on a real PostgreSQL (10M payments).
bench: install pg-server
	test -x .venv-bench/bin/python || python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q .
	$(PY) benchmarks/bench_engine.py --hisaab .venv-bench/bin/hisaab
	HISAAB_PG_BIN=$(PG_BIN) $(PY) benchmarks/bench_overview.py --hisaab .venv-bench/bin/hisaab

# Real-time M-Pesa: 1,000 callbacks/s for 60 s over HTTP against `hisaab serve`, on SQLite and
# PostgreSQL, with and without a worker SIGKILL; updates docs/benchmarks.md.
bench-realtime: install pg-server redis-server
	test -x .venv-bench/bin/python || python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q .
	HISAAB_PG_BIN=$(PG_BIN) $(PY) benchmarks/bench_realtime.py --suite --hisaab .venv-bench/bin/hisaab

# The API under load: 64 concurrent clients on every authenticated endpoint for 60 s against
# `hisaab serve`, on SQLite and PostgreSQL (zero 5xx, zero unanswered); updates docs/benchmarks.md.
bench-api: install pg-server
	test -x .venv-bench/bin/python || python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q .
	HISAAB_PG_BIN=$(PG_BIN) $(PY) benchmarks/bench_api.py --hisaab .venv-bench/bin/hisaab

# Settling one date over N payments across M merchants on PostgreSQL; updates docs/benchmarks.md.
bench-settle: install pg-server
	HISAAB_PG_BIN=$(PG_BIN) $(PY) benchmarks/bench_settle.py

clean:
	rm -rf $(DEMO) bench-data .venv-bench .pytest_cache .mypy_cache .ruff_cache
