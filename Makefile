# Two commands do everything on a fresh machine:
#   make demo   set up .venv, train the cpu preset on the embedded faces, complete 64 sketches
#   make test   set up .venv, run every test
# TORCH names the torch requirement installed together with the project. The default is the
# CPU build this project is tested with; on a GPU machine use e.g. `make demo TORCH=torch`.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
OUT    ?= results/demo
PY     := $(VENV)/bin/python

.PHONY: demo test benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m cgan_minimal demo --out $(OUT)

test: $(VENV)/.installed
	$(PY) -m pytest

benchmark: $(VENV)/.installed
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) results *.egg-info
