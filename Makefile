# Two commands on a fresh machine: `make demo` (the web demo on the embedded model) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint benchmarks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0  # the local CPU build; a plain `torch` pulls GBs of CUDA
	$(BIN)/pip install --quiet -e ".[all,test]"  # every extra: the demo, videos, ONNX export
	touch $(STAMP)

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

demo: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/fer-hub demo

test: $(STAMP) /usr/bin/chromium
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  # no browser, no child servers, trainings or fresh interpreters: about a minute
	$(BIN)/python -m pytest -q -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/default_model.py
	$(BIN)/python benchmarks/demo_latency.py
	$(BIN)/python benchmarks/cli_startup.py
