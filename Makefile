# Two commands on a fresh machine:
#   make dev    set up and run both services on the embedded defaults (SQLite, no Redis)
#   make test   set up and run the whole test suite (ruff included)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: setup dev test lint clean

setup: $(STAMP) node_modules/.installed

# The official socket.io client for the inbox page and the JS tests; playwright-core for Chromium.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

# A dev .env with a random JWT_SECRET, made once; an existing .env is never overwritten.
.env:
	sed "s|^JWT_SECRET=.*|JWT_SECRET=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))')|" \
		.env.example > .env
	@echo "wrote .env with a random JWT_SECRET"

dev: setup .env
	@echo "gateway: http://localhost:3000   notify: http://localhost:3006"
	@echo "inbox page: http://localhost:3000/   tokens for the README's examples (valid 24 h):"
	@echo "export USER_TOKEN=$$($(PY) wsgi.py token --sub alice --ttl 86400)"
	@echo "export PUB_TOKEN=$$($(PY) wsgi.py token --sub svc --scope notifications:publish --ttl 86400)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The benchmark (bench/): direct vs gateway vs nginx on this machine. Needs nginx and wrk.
.PHONY: bench bench-full
bench: setup
	$(PY) -m bench --short

bench-full: setup
	$(PY) -m bench
