# Two commands do everything on a fresh machine:
#   make demo   set up .venv, train the cpu preset on the embedded faces, complete 64 sketches
#               (ARGS adds demo options, e.g. ARGS="--recipe dcgan")
#   make test   set up .venv, run every test (library, chapters, book build)
# TORCH names the torch requirement installed together with the project. The default is the
# CPU build this project is tested with; on a GPU machine use e.g. `make demo TORCH=torch`.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
OUT    ?= results/demo
ARGS   ?=
PY     := $(VENV)/bin/python

.PHONY: demo test benchmark pretrained clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m cgan_minimal demo --out $(OUT) $(ARGS)

# Every test: the library's, then each chapter executed by nbval, then the book built offline
# from the outputs nbval recorded (book/conftest.py; the cache is emptied first, so nothing stale),
# then the checks of the built site (tests/test_site.py).
test: $(VENV)/.installed
	$(PY) -m pytest
	rm -rf book/_build/.jupyter_cache
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider book
	$(VENV)/bin/jupyter-book build book -W -n --keep-going
	$(PY) -m pytest -m site tests/test_site.py

benchmark: $(VENV)/.installed
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/reference.py
	$(PY) benchmarks/early_stop.py
	$(PY) benchmarks/folder_cache.py

# The models shipped in cgan_minimal/pretrained/ (about 75 minutes on 2 CPU cores; see its README.md).
MODELS := cgan_minimal/pretrained
FINE_TUNE_EPOCHS ?= 10
pretrained: $(VENV)/.installed
	$(PY) -m cgan_minimal train --preset cpu --recipe dcgan --train-size 10000 --epochs 40 --seed 0 --g-steps 2 --out runs/faces_xdog
	$(PY) -m cgan_minimal export --checkpoint runs/faces_xdog --out $(MODELS)/faces_xdog.pt
	$(PY) -m cgan_minimal complete --checkpoint $(MODELS)/faces_xdog.pt --n 64 --iters 200 --out $(MODELS)/faces_xdog
	$(PY) -m cgan_minimal train --preset cpu --recipe dcgan --train-size 10000 --epochs $(FINE_TUNE_EPOCHS) --seed 0 --g-steps 2 \
	    --style xdog,photocopy,fdog --init-from runs/faces_xdog --lr 1e-5 --out runs/faces_multistyle
	$(PY) -m cgan_minimal export --checkpoint runs/faces_multistyle --out $(MODELS)/faces_multistyle.pt
	$(PY) -m cgan_minimal complete --checkpoint $(MODELS)/faces_multistyle.pt --n 64 --iters 200 --out $(MODELS)/faces_multistyle
	$(PY) -m cgan_minimal train --model pix2pix --preset cpu --train-size 10000 --epochs 20 --seed 0 --out runs/faces_pix2pix
	$(PY) -m cgan_minimal export --checkpoint runs/faces_pix2pix --out $(MODELS)/faces_pix2pix.pt
	$(PY) -m cgan_minimal train-classifier --out $(MODELS)/attributes_faces.pt
	$(PY) -m cgan_minimal evaluate --checkpoint $(MODELS)/faces_xdog.pt --baseline $(MODELS)/faces_pix2pix.pt --out $(MODELS)/faces_pix2pix

clean:
	rm -rf $(VENV) results *.egg-info book/_build
