# trawler: `make demo` and `make test` work on a fresh Debian machine with Python 3.11.
# Every install step lives here: Python packages into .venv (pinned by constraints.txt),
# Debian packages (chromium, redis-server, postgresql) through apt-get when run as root.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEBIAN_PACKAGES := chromium redis-server postgresql

.PHONY: install system-deps demo test eval bench lint clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(STAMP)

# Debian packages the tests start for real; installed only when missing, and only as root.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "not root: cannot apt-get install$$missing (tests that need them will skip)"; \
	  fi; \
	fi

demo: install
	$(BIN)/python scripts/demo.py

test: install system-deps
	$(BIN)/pytest

eval: install
	$(BIN)/trawler train --data ../shared/corpus/train.jsonl --dev ../shared/corpus/dev.jsonl \
	  --leave-out all --leave-out-source all \
	  --leave-out-source ru-shop-bot+ru-shop-bot2 --out models/trawler

bench: install
	$(BIN)/python bench/crawl_throughput.py
	$(BIN)/python bench/classifier.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) demo-data .pytest_cache
