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

# System packages the tests use, from Debian (never downloaded at run time): Chromium for the browser test,
# FluidSynth + the General MIDI soundfont to render songs to audio. Installed where we can, else those tests skip.
SYSTEM_PACKAGES = chromium fluidsynth fluid-soundfont-gm

test: $(BIN)/melody
	@if { [ ! -x /usr/bin/chromium ] || ! command -v fluidsynth >/dev/null || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; } \
		&& command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)) \
		|| echo "could not install $(SYSTEM_PACKAGES): the browser and audio-render tests will be skipped"; fi
	$(BIN)/pytest -q

examples: $(BIN)/melody
	$(BIN)/python scripts/make_examples.py

clean-venv:
	rm -rf $(VENV)
