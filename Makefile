# sdd-nb: the two commands of a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
# Both create .venv (plain pip: torch 2.14.1 / torchvision 0.29.1 come from the local wheel disk where there is one).
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PIPQ := grep -v "is ignored: it is neither a file nor a directory" || true
# PyTorch's CPU threads spin less before they sleep: on a busy machine (two jobs, CI beside other work) libgomp's default
# spin made a training step 2 threads ~10x slower than idle, 10000 ~3x (bench/busy_cpu.py). `import sdd_nb` sets the same
# where torch is not loaded yet; exported here for every kernel and process a target starts (JupyterLab's included).
export GOMP_SPINCOUNT ?= 10000

.PHONY: demo test install export clean-nbs readme bench bench-paper figures reproduce
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing sdd-nb and its dependencies into $(VENV) (first time: a few minutes)"
	@$(PY) -m pip install -q --upgrade pip 2>&1 | $(PIPQ)
	@set -o pipefail; $(PY) -m pip install -q -e '.[dev]' 2>&1 | $(PIPQ)
	@$(PY) -c "import sdd_nb, torch, torchvision, diffusers, open_clip, cleanfid" || { echo "install failed: see the pip output above"; exit 1; }
	@touch $@
install: $(VENV)/.installed

# The main job of the embedded default: the toy world's figures, then SDD trained for "white hair" and measured
# (a finished run is kept and only re-measured; delete _runs/demo-white_hair to train again). SDD_PROGRESS=terminal:
# the notebook's training bar is drawn here, not only papermill's per-cell bar (sdd_nb.core.progress_bar).
demo: install
	@mkdir -p _runs
	$(BIN)/papermill nbs/toyworld.ipynb _runs/toyworld.ipynb --log-level WARNING
	SDD_PROGRESS=terminal $(BIN)/papermill nbs/train.ipynb _runs/train-white_hair.ipynb -p prompt "white hair" -p out_dir _runs/demo-white_hair -p resume True --log-level WARNING
	@echo "toy-world figures in figures/; the SDD run in _runs/demo-white_hair (metrics.json, before_after.png)"

# The HQS figures of the paper's Figure 4 (a few minutes on the CPU).
figures: install
	$(BIN)/papermill nbs/hqs.ipynb _runs/hqs.ipynb -f nbs/configs/hqs_full.yaml --log-level WARNING

# Every test: notebooks in sync and clean, ruff (pyflakes) over sdd_nb tests bench tools, nbdev-test over all notebooks, pytest.
test: install
	@bash .ci/test.sh

export: install
	$(BIN)/nbdev-export
clean-nbs: install
	$(BIN)/nbdev-clean
readme: install
	$(PY) tools/readme.py --write
# Every figure and table of the paper, the claims with 95% intervals (sdd_nb.reproduce): three training seeds by default
# (several hours on a 2-core CPU); SEEDS="0" for one (intervals over faces only, said so in figures/claims.md);
# ADD_SEEDS="1 2" adds seeds to the results already in figures/ (their trained experiments only; the baselines are reused).
# A notebook that already finished with the same parameters is skipped (python -m sdd_nb.reproduce --rerun runs it again).
SEEDS ?=
ADD_SEEDS ?=
reproduce: install
	$(PY) -m sdd_nb.reproduce $(if $(ADD_SEEDS),--add-seeds $(ADD_SEEDS),$(if $(SEEDS),--seeds $(SEEDS)))

bench: install
	$(PY) bench/render_speed.py
	$(PY) bench/render_speed.py --domain cats
	$(PY) bench/render_speed.py --domain cars
	$(PY) bench/guidance_batched.py

# The paper's size with random weights (a GPU: minutes; the CPU: about half an hour) -> bench/results/paper_scale_<device>.json
DEVICE ?= cuda
DTYPE ?= bfloat16
bench-paper: install
	$(PY) bench/paper_scale.py --device $(DEVICE) --dtype $(DTYPE)

# JupyterLab on the project (Ctrl+C stops it). The kernel of .venv is registered inside .venv with the display name
# "sdd-nb (.venv)" under the kernel name python3, the name the notebooks record: opening or saving one changes
# nothing that papermill or nbdev-clean read. Kernels get CurveZMQ-encrypted channels (transport_encryption=auto; ipykernel
# declares it): jupyter_client's default leaves them plain and ipykernel 7 warns at every kernel start.
# LAB_PORT=8888; LAB_ARGS for more options (e.g. --no-browser --ip 0.0.0.0).
.PHONY: lab docs screenshots
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: install
	@$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "sdd-nb (.venv)" >/dev/null
	@echo "kernel 'sdd-nb (.venv)' registered in $(VENV); JupyterLab starts on http://localhost:$(LAB_PORT)/lab (the URL with its token is printed below; Ctrl+C stops it)"
	$(BIN)/jupyter lab --notebook-dir=. --port=$(LAB_PORT) $(if $(filter 0,$(shell id -u)),--allow-root) --KernelManager.transport_encryption=auto $(LAB_ARGS)

# The notebooks as a static site with their outputs: _site/index.html, in reading order. Library notebooks are executed
# (one at a time, one thread: a few minutes); experiment notebooks show their last run under _runs/ (make demo,
# make figures, make reproduce), else their source. DOCS_ARGS: e.g. --only index,00_core, --no-execute, --jobs 2.
docs: install
	OMP_NUM_THREADS=1 $(PY) tools/docs.py --out _site $(DOCS_ARGS)

# Refresh the committed screenshots (docs/screenshots/*.png): the site (make docs), then the browser test with
# train.ipynb at its 300 steps in JupyterLab (a few minutes on the CPU).
screenshots: docs
	SDD_SCREENSHOTS=docs/screenshots OMP_NUM_THREADS=1 $(BIN)/pytest -q tests/test_browser.py
