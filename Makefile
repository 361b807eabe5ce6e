# Oficina Virtual: `make run` serves the portal, `make test` runs the whole suite.
# `make bench` measures it under gunicorn and nginx and writes docs/performance.md.
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 5000
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app ov
# `make test` runs the suite in two processes (pytest-xdist), a test file to each at a time;
# each has its own PostgreSQL database and Redis database (tests/conftest.py).
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: run banner test lint test-tools demo-100k import-billing bench-import bench clean

# Python's venv module, and pip inside the virtual environment.
$(BIN)/python:
	@sh scripts/ensure-venv.sh "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(FLASK) db upgrade
	$(FLASK) demo-data --if-empty
	@$(MAKE) --no-print-directory -s banner PORT=$(PORT)
	PORT=$(PORT) $(FLASK) run --host 127.0.0.1 --port $(PORT)

# What `make run` says before the server starts (PORT also sets the mail links' address).
banner:
	@echo ""
	@echo "  Oficina Virtual: http://127.0.0.1:$(PORT)/"
	@echo "  Abre primero:"
	@echo "    http://127.0.0.1:$(PORT)/registro/paso-1  regístrate con el contrato de ejemplo de la guía:"
	@echo "      Zona Geográfica: Nuevo Laredo · Número de cuenta: 8295249 · Número de factura: ZE40389382"
	@echo "    http://127.0.0.1:$(PORT)/entrar  entra con el usuario que registraste"
	@echo "  Con los ajustes por defecto los correos no salen de esta máquina: cada uno se escribe"
	@echo "  como archivo .eml en instance/mail/ (ábrelo con un programa de correo o un editor);"
	@echo "  sus enlaces llevan a http://127.0.0.1:$(PORT) (OV_PUBLIC_URL y OV_MAIL_BACKEND lo cambian)."
	@echo "  Páginas de ayuda: /atencion-al-cliente  /aviso-legal  /aviso-de-privacidad  /accesibilidad"
	@echo ""

test-tools:
	@sh scripts/ensure-test-tools.sh

test: $(VENV)/.installed-test test-tools
	$(BIN)/ruff check ov tests bench scripts
	$(BIN)/bandit -q -r ov -c pyproject.toml 2>$(VENV)/bandit.log || { cat $(VENV)/bandit.log; exit 1; }
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ov tests bench scripts

# Load a billing export (docs/import-format.md) into the database `make run` serves:
#   make import-billing DIR=docs/examples/billing-2026-10
import-billing: $(VENV)/.installed-run
	@test -n "$(DIR)" || { echo "Usage: make import-billing DIR=folder-of-the-export"; exit 2; }
	$(FLASK) db upgrade
	$(FLASK) import-billing "$(DIR)"

# The import's time and peak memory at 100,000 accounts (bench/import_benchmark.py).
bench-import: $(VENV)/.installed-run
	$(BIN)/python bench/import_benchmark.py --accounts 100000 $(BENCH_ARGS)

# CPU per request, overload, slow clients, the Locust journey, page weight and Lighthouse,
# written into docs/performance.md (bench/run_all.py; needs wrk, nginx and Chromium):
#   OV_DATABASE_URL=postgresql+psycopg://... make bench BENCH_ARGS="--only cpu --duration 10"
bench: $(VENV)/.installed-bench bench/tools/node_modules
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

# Lighthouse, pinned in bench/tools/package-lock.json (it drives Debian's Chromium).
bench/tools/node_modules: bench/tools/package-lock.json
	cd bench/tools && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# A short wapiti3 scan of the portal as deployed (nginx, TLS, gunicorn, OV_ENV=production) on
# a fresh instance in a temporary folder; any finding not accepted in
# scripts/security_scan_accepted.json fails it (docs/security.md). Not part of `make test`.
# wapiti and its many dependencies live in a virtual environment of their own.
SCAN_VENV ?= .venv-scan
WAPITI    ?= wapiti3>=3.2.3,<3.3

.PHONY: scan
scan: $(VENV)/.installed-test $(SCAN_VENV)/.installed-wapiti
	$(BIN)/python scripts/security_scan.py --wapiti $(SCAN_VENV)/bin/wapiti $(SCAN_ARGS)

$(SCAN_VENV)/.installed-wapiti: | $(BIN)/python
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install -q --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install -q '$(WAPITI)'
	@touch $@

# 100,000 accounts with 24 months each, for the benchmarks (see bench/demo_data.md).
demo-100k: $(VENV)/.installed-run
	$(FLASK) db upgrade
	$(FLASK) demo-data --accounts 100000 --months 24

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
