# sdd-nb: the two commands of a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
# Both create .venv (plain pip: torch 2.14.1 / torchvision 0.29.1 come from the local wheel disk where there is one).
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PIPQ := grep -v "is ignored: it is neither a file nor a directory" || true

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
# (a finished run is kept and only re-measured; delete _runs/demo-white_hair to train again).
demo: install
	@mkdir -p _runs
	$(BIN)/papermill nbs/toyworld.ipynb _runs/toyworld.ipynb --log-level WARNING
	$(BIN)/papermill nbs/train.ipynb _runs/train-white_hair.ipynb -p prompt "white hair" -p out_dir _runs/demo-white_hair -p resume True --log-level WARNING
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
reproduce: install
	$(PY) -m sdd_nb.reproduce

bench: install
	$(PY) bench/render_speed.py
	$(PY) bench/guidance_batched.py

# The paper's size with random weights (a GPU: minutes; the CPU: about half an hour) -> bench/results/paper_scale_<device>.json
DEVICE ?= cuda
DTYPE ?= bfloat16
bench-paper: install
	$(PY) bench/paper_scale.py --device $(DEVICE) --dtype $(DTYPE)
