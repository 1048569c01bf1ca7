# Two commands do everything on a fresh machine:
#   make demo   set up .venv, train the cpu preset on the embedded faces, complete 64 sketches
#               (ARGS adds demo options, e.g. ARGS="--recipe dcgan")
#   make test   set up .venv (and Chromium, as root), run every test (library, chapters,
#               book build, the built site in a browser)
# TORCH names the torch requirement installed together with the project. The default is the
# CPU build this project is tested with; on a GPU machine use e.g. `make demo TORCH=torch`.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
OUT    ?= results/demo
ARGS   ?=
PY     := $(VENV)/bin/python

.PHONY: demo test benchmark pretrained clean chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m cgan_minimal demo --out $(OUT) $(ARGS)

# tests/test_site.py opens built pages in headless Chromium (Debian's package): installed here
# when it is missing and make runs as root (as on CI), otherwise make says how to install it.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium for tests/test_site.py"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "make test needs Chromium for tests/test_site.py: sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

# Every test: the library's, then each chapter executed by nbval, then the book built offline
# from the outputs nbval recorded (book/conftest.py; the cache is emptied first, so nothing stale),
# then the checks of the built site (tests/test_site.py), some of them in Chromium.
test: $(VENV)/.installed chromium
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
