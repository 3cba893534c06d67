"""The notebooks' numeric checks hold in every machine state, not only the one they were written on (issue 26).

How a float sum is split (the thread count, PyTorch's SIMD kernels) changes its last bits. A check with an absolute eps passed
with the default threads and failed with `OMP_NUM_THREADS=1`; on this CPU it fails with one thread and PyTorch's plain kernels
(`ATEN_CPU_CAPABILITY=default`, what a CPU without AVX2 runs). `sdd_nb.core.assert_close_scaled` measures the difference
against the size of the numbers. The whole suite runs in the default state; this runs the notebook of the guidance checks
(the supervisor's gradients against the UNet called by hand) in the states that broke it, and with two threads (CI runs
everything else with one thread per worker, `.ci/test.sh`)."""
import os
import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize("state", [{"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
                                   {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"},
                                   {"OMP_NUM_THREADS": "2"}], ids=["1thread-default", "1thread-avx2", "2threads"])
def test_guidance_checks_hold_in_other_thread_counts_and_kernels(root, python, state):
    env = {**os.environ, **state}
    r = subprocess.run([str(Path(python).parent / "nbdev-test"), "nbs/02_guidance.ipynb"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_experiment_notebooks_import_sdd_nb_before_torch(root):
    """`import sdd_nb` sets libgomp's short spin (nbs/12_api.ipynb), which takes effect only if torch is not loaded yet: every
    experiment notebook imports it first, so that `papermill nbs/train.ipynb ...` beside other work keeps its speed
    (bench/busy_cpu.py: a step of two threads beside one busy process 2.9 s with libgomp's default spin, 0.95 s with ours)."""
    import json
    for nb in sorted((root / "nbs").glob("[a-z]*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        if "import torch" not in code: continue
        assert code.find("import sdd_nb\n") > -1 or code.find("import sdd_nb ") > -1, f"{nb.name} does not import sdd_nb"
        first = min(i for i in (code.find("import sdd_nb\n"), code.find("import sdd_nb ")) if i > -1)
        assert first < code.find("import torch"), f"{nb.name} imports torch before sdd_nb"
