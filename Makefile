# Two commands for a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test drills lint fmt messages clean bench-db bench-receipts bench-dashboard bench-load bench-boards-push bench-settle bench-wallet bench-agencies

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	touch $@

# Install, migrate, start the wallet's and the acquirer's simulators, seed the demo network,
# then the wallet's worker and daphne (tools/devserver.py; Ctrl-C stops them all).
run: $(VENV)/.installed
	$(PY) -m tools.devserver --host $(HOST) --port $(PORT)

# Install what the tests need and run the whole suite (DATABASE_URL picks PostgreSQL).
# Browser tests run as their own invocation (Debian's chromium; skipped, with the
# reason, where /usr/bin/chromium is missing). E2E=0 leaves them out.
E2E ?= 1
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(PY) -m pytest --ignore=tests/e2e $(PYTEST_ARGS)
ifeq ($(E2E),1)
	test -f node_modules/axe-core/axe.min.js || ! command -v npm >/dev/null || npm ci --no-audit --no-fund
	$(PY) -m pytest tests/e2e -rs
endif

# Fault drills: each starts its own PostgreSQL cluster and Redis on free loopback ports
# and kills or restarts them (and the app) under load; see README, Fault drills.
drills: $(VENV)/.installed
	$(PY) -m pytest tests/drills -m drill -rs $(PYTEST_ARGS)

# Benchmarks run on PostgreSQL and Redis (a scratch database, re-created each run).
BENCH_DB ?= counters_bench
BENCH_ENV = DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BENCH_DB) REDIS_URL=redis://127.0.0.1:6379/11 DATABASE_POOL_MAX_SIZE=20
bench-db: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(BENCH_DB)" postgres
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(BENCH_DB)" postgres
	$(BENCH_ENV) $(PY) manage.py migrate -v0
	$(BENCH_ENV) $(PY) manage.py seed_demo >/dev/null

bench-receipts: $(VENV)/.installed
	$(PY) manage.py bench_receipts --count 1000

bench-dashboard: bench-db
	$(BENCH_ENV) $(PY) manage.py bench_dashboard $(BENCH_ARGS)

# The national peak over HTTP (tools/bench/load.py): a fresh database with the whole network,
# pgbench on one payment's SQL, then the chosen server under load with receipts and dashboards.
LOAD_DB ?= counters_load
LOAD_ENV = DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(LOAD_DB) REDIS_URL=redis://127.0.0.1:6379/12
LOAD_ARGS ?= --server gunicorn --workers 3 --steps 10,20,170,340 --seconds 60 --dashboards 1000
bench-load: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(LOAD_DB)" postgres
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(LOAD_DB)" postgres
	$(LOAD_ENV) $(PY) manage.py migrate -v0
	$(LOAD_ENV) $(PY) -m tools.bench.load $(LOAD_ARGS) $(BENCH_ARGS)

# What 1,000 live boards cost daphne at one push a second (tools/bench/boards_push.py):
# a fresh demo database, daphne on loopback, the boards on the nation board.
BOARDS_DB ?= counters_boards
BOARDS_REDIS ?= redis://127.0.0.1:6379/13
BOARDS_ENV = DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BOARDS_DB) REDIS_URL=$(BOARDS_REDIS)
BOARDS_ARGS ?= --boards 1000 --seconds 30
bench-boards-push: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(BOARDS_DB)" postgres
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(BOARDS_DB)" postgres
	$(BOARDS_ENV) $(PY) manage.py migrate -v0
	$(BOARDS_ENV) $(PY) manage.py seed_demo >/dev/null
	$(BOARDS_ENV) $(PY) -m tools.bench.boards_push $(BOARDS_ARGS) $(BENCH_ARGS)

# Settling a national day while the counters pay (issue 14): a fresh database with the whole
# network and yesterday's 600,000 payments (about 5 minutes), then `settle` of yesterday timed
# against concurrent payments, its locks watched, and the largest batch's CSV served.
SETTLE_DB ?= counters_settle
SETTLE_REDIS ?= redis://127.0.0.1:6379/14
SETTLE_ENV = DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(SETTLE_DB) REDIS_URL=$(SETTLE_REDIS)
bench-settle: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(SETTLE_DB)" postgres
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(SETTLE_DB)" postgres
	$(SETTLE_ENV) $(PY) manage.py migrate -v0
	$(SETTLE_ENV) $(PY) manage.py seed_national --history-days 1 >/dev/null
	$(SETTLE_ENV) $(PY) manage.py bench_settle $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Regenerate and compile the Arabic catalogue (needs GNU gettext; the .mo is committed).
messages: $(VENV)/.installed
	$(PY) manage.py makemessages -l ar --ignore=.venv --ignore=tests
	$(PY) manage.py compilemessages -l ar --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles

# From the wallet provider taking the money to the agent's screen (tools/bench/wallet_flip.py):
# a seeded demo app, the wallet's worker and simulator, Chromium as the agent; p50/p95.
WALLET_RUNS ?= 20
bench-wallet: $(VENV)/.installed
	$(PY) -m tools.bench.wallet_flip --runs $(WALLET_RUNS)

# The agencies' systems (tools/bench/agencies.py): a fresh PostgreSQL database, the agency
# simulator; inquiries p50/p95, then payments with `agency_worker` running, commit -> ack.
AGENCIES_ARGS ?= --inquiries 500 --payments 500 --rate 20
bench-agencies: $(VENV)/.installed
	psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $(BENCH_DB)" postgres
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $(BENCH_DB)" postgres
	$(BENCH_ENV) $(PY) manage.py migrate -v0
	$(BENCH_ENV) $(PY) -m tools.bench.agencies $(AGENCIES_ARGS) $(BENCH_ARGS)
