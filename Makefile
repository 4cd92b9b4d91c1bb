# Every target installs what it needs into .venv from nothing (python3 -m venv + pip from PyPI).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo ha-demo run test bench manifest lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m bot console

run: $(STAMP)
	$(PY) -m bot serve

# Three replicas on a throwaway Redis and PostgreSQL (installed from Debian if missing, as in CI),
# a burst, one replica killed; prints what each replica did (bot/local/ha_demo.py).
ha-demo: $(STAMP)
	bash -c 'set -euo pipefail; source .ci/postgres.sh; source .ci/redis.sh; \
		start_throwaway_postgres; start_throwaway_redis; \
		REDIS_URL="$$CALLMOD_TEST_REDIS_URL" DATABASE_URL="$$CALLMOD_TEST_POSTGRES_URL" \
		$(PY) -m bot.local.ha_demo'

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict bot commands benchmarks

test: lint
	$(VENV)/bin/pytest -n 2

bench: $(STAMP)
	$(PY) -m benchmarks

manifest: $(STAMP)
	$(PY) -m bot manifest > manifest.yml.tmp && mv manifest.yml.tmp manifest.yml

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
