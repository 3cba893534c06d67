#!/usr/bin/env bash
# The project's test command (`make test` runs it after installing into .venv; `.ci/run` runs `make test`):
# 1) the package is in sync with the notebooks, 2) ruff (pyflakes) finds no undefined name or unused import,
# 3) the notebooks are clean, 4) README.md is in step with nbs/index.ipynb, 5) nbdev-test over every notebook,
# 6) pytest. Any failure stops it loudly.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
fail() { echo; echo "FAILED: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }
state() { git status --porcelain --untracked-files=all -- "$@"; git diff -- "$@"; }

step "1/6 package in sync with the notebooks (nbdev-export)"
before=$(state sdd_nb)
"$BIN/nbdev-export" || fail "nbdev-export crashed"
after=$(state sdd_nb)
if [ "$before" != "$after" ]; then
  git status --short -- sdd_nb
  fail "sdd_nb/ is not in sync with the notebooks: a notebook was edited without exporting. Run nbdev-export (or make export) and commit sdd_nb/."
fi

step "2/6 lint (ruff check sdd_nb tests bench tools)"
"$BIN/ruff" check sdd_nb tests bench tools || fail "ruff found the problems listed above (an undefined name is a bug a user would hit; an unused import is noise). Fix them in the notebooks for sdd_nb/ (then nbdev-export), in place for tests/ bench/ tools/; if ruff is missing, pip install -e '.[dev]'."

step "3/6 notebooks clean (nbdev-clean)"
before=$(state nbs)
"$BIN/nbdev-clean" || fail "nbdev-clean crashed"
after=$(state nbs)
if [ "$before" != "$after" ]; then
  git status --short -- nbs
  fail "notebooks carry outputs or metadata: run nbdev-clean (or make clean-nbs) and commit nbs/."
fi

step "4/6 README.md in step with nbs/index.ipynb"
"$BIN/python" tools/readme.py --check || fail "README.md differs from nbs/index.ipynb: edit index.ipynb, then run make readme."

# Steps 5 and 6 run two workers at a time, each with one thread (OMP_NUM_THREADS=1): two workers of two threads each on a
# 2-core machine oversubscribe it, and PyTorch's OpenMP threads then wait on each other (see bench/busy_cpu.py). The
# notebooks' checks in the other thread counts: tests/test_machine_states.py.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
step "5/6 nbdev-test over every notebook (2 workers, $OMP_NUM_THREADS thread(s) each)"
"$BIN/nbdev-test" --n-workers 2 --timing || fail "nbdev-test failed on the notebooks listed above"

step "6/6 pytest (2 workers, $OMP_NUM_THREADS thread(s) each; the 15 slowest listed)"
"$BIN/pytest" -q -ra -n 2 --durations=15 tests
rc=$?
[ $rc -eq 5 ] && fail "pytest collected no tests"
[ $rc -ne 0 ] && fail "pytest failed (exit $rc)"
echo; echo "all checks passed"
