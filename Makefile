# Two commands do everything on a fresh machine:
#   make demo   create .venv, build the default catalog (once, cached), scan examples/
#   make test   create .venv with the test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test catalog examples clean-venv

$(BIN)/melody: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/melody

catalog: $(BIN)/melody
	$(BIN)/melody catalog build-default

demo: catalog
	$(BIN)/melody scan examples/ --top 3

# The browser test uses the system Chromium (never a downloaded one); install it where we can, else it skips.
test: $(BIN)/melody
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "could not install chromium: tests/test_browser.py will be skipped"; fi
	$(BIN)/pytest -q

examples: $(BIN)/melody
	$(BIN)/python scripts/make_examples.py

clean-venv:
	rm -rf $(VENV)
