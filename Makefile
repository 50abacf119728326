# The two commands of the README: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   ?= .venv
# pytest-xdist workers: the suite is mostly waiting on real daemons and servers, two halve its time
PYTEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench sysdeps clean

# Debian packages the tests use: promtool + prometheus (metrics format, rules, the Prometheus
# round trip), headless Chromium + ChromeDriver (the browser test), a CJK font (report charts).
DEBIAN_PACKAGES ?= prometheus chromium chromium-driver fonts-wqy-microhei

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## Run the daemon on the bundled demo (SQLite in ./brandpulse-data, demo sources, console alerts).
demo: $(STAMP)
	$(VENV)/bin/brandpulse demo $(ARGS)

## Run the whole test suite (installs the Debian packages above when missing), after the
## linters: ruff (style, imports, bugbear) and mypy (types) on the four packages.
test: $(STAMP) sysdeps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy monitor sources nlp alerts
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## Run every benchmark in bench/ (each prints its figure and an in-run baseline).
bench: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[bench]'
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

sysdeps:
	@missing=""; for pkg in $(DEBIAN_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) brandpulse-data .pytest_cache
