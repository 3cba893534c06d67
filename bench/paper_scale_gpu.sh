#!/usr/bin/env bash
# One prepared GPU check (for a session lent a GPU): the paper-scale benchmark in the recipe's setting and with each
# speed/memory option, JSON per variant under bench/results/ (named by the card), a summary table at the end.
#   bash bench/paper_scale_gpu.sh            # about 5-8 minutes on an H100/H200
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_' )
run() { local tag=$1; shift; timeout 300 "$PY" bench/paper_scale.py --device cuda --repeats 5 --out "bench/results/paper_scale_${card}_${tag}.json" "$@" || echo "variant $tag failed"; }
run bf16 --dtype bfloat16
run bf16_channels_last --dtype bfloat16 --channels-last --only distill_step,hqs_search,sdd_pixel,sdedit
run bf16_checkpointing --dtype bfloat16 --checkpointing --only distill_step
run bf16_compile --dtype bfloat16 --compile --only hqs_search,sdedit,distill_step
run fp32 --dtype float32 --only distill_step,sdedit,sdd_pixel
