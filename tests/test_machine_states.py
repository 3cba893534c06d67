"""The notebooks' numeric checks hold in every machine state, not only the one they were written on (issue 26).

How a float sum is split (the thread count, PyTorch's SIMD kernels) changes its last bits. A check with an absolute eps passed
with the default threads and failed with `OMP_NUM_THREADS=1`; on this CPU it fails with one thread and PyTorch's plain kernels
(`ATEN_CPU_CAPABILITY=default`, what a CPU without AVX2 runs). `sdd_nb.core.assert_close_scaled` measures the difference
against the size of the numbers. The whole suite runs in the default state; this runs the notebook of the guidance checks
(the supervisor's gradients against the UNet called by hand) in the states that broke it."""
import os
import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize("state", [{"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
                                   {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"}], ids=["1thread-default", "1thread-avx2"])
def test_guidance_checks_hold_with_one_thread_and_other_kernels(root, python, state):
    env = {**os.environ, **state}
    r = subprocess.run([str(Path(python).parent / "nbdev-test"), "nbs/02_guidance.ipynb"], cwd=root, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
