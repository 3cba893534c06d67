"""Data-parallel distillation under torchrun (and `accelerate launch`): two CPU processes (gloo) with batch b train like one process with batch 2b,
from the same command line (`python -m sdd_nb.distill`), and resume works the same way. torchrun runs `--standalone`, so
every launch takes a free port of its own (fixed ports collide with a second test run on the same machine)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import free_port
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]

SMALL = ["prompt='white hair'", "steps=4", "channels=8", "hqs_images=2", "hqs_grid=[300, 600]", "train_images=16",
         "eval_images=4", "ckpt_every=2", "sample_every=4", "manipulator=image"]


def _launcher(name, nproc):
    if name == "torchrun": return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    # `accelerate launch`, the ecosystem's usual launcher: its torchrun path is `--multi_gpu` (it runs gloo on a CPU too)
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(nproc), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]


def _run(root, args, nproc=None, timeout=600, launcher="torchrun"):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    cmd = (_launcher(launcher, nproc) if nproc else [sys.executable]) + ["-m", "sdd_nb.distill"] + args
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    assert "terminate called" not in r.stderr, r.stderr[-5000:]          # every rank tore down cleanly
    return r


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    "The reference: one process with the global batch (4)."
    out = tmp_path_factory.mktemp("one") / "run"
    _run(ROOT, ["--out", str(out), "--set", *SMALL, "batch_size=4"])
    return out


def _same_training(ddp, one):
    a, b = load_file(str(ddp / "manipulator.safetensors")), load_file(str(one / "manipulator.safetensors"))
    assert a.keys() == b.keys()
    # equal up to float noise. Adam turns noise into whole steps where the true gradient is 0 (a conv bias right before a
    # GroupNorm), so: 99% of the weights within a tenth of one step (lr 0.005); unsynchronised or duplicated batches
    # differ by whole steps almost everywhere
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert (diff < 5e-4).float().mean() > 0.99, (diff > 5e-4).sum()
    info = json.loads((ddp / "train_info.json").read_text())
    assert info["world_size"] == 2 and info["steps"] == 4
    la, lb = pd.read_csv(ddp / "log.csv"), pd.read_csv(one / "log.csv")
    assert len(la) == 4
    # the logged loss is the mean over the two processes: the one-process loss of the same global batch
    torch.testing.assert_close(torch.tensor(la.loss.values), torch.tensor(lb.loss.values), atol=1e-5, rtol=1e-4)


def test_two_processes_train_like_one_with_twice_the_batch(root, tmp_path, one_process):
    _run(root, ["--out", str(tmp_path / "ddp"), "--set", *SMALL, "batch_size=2"], nproc=2)
    _same_training(tmp_path / "ddp", one_process)
    # a finished run resumes under torchrun too (nothing to do, nothing lost), and one of other settings is refused
    _run(root, ["--out", str(tmp_path / "ddp"), "--resume", "--set", *SMALL, "batch_size=2"], nproc=2)
    assert len(pd.read_csv(tmp_path / "ddp" / "log.csv")) == 4
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "sdd_nb.distill",
                        "--out", str(tmp_path / "ddp"), "--resume", "--set", *SMALL, "batch_size=2", "lr=0.01"],
                       cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "trained with other settings" in r.stdout + r.stderr


def test_accelerate_launch_runs_like_torchrun(root, tmp_path, one_process):
    "The README's `accelerate launch --multi_gpu --num_processes 2 -m sdd_nb.distill ...`: the same training as torchrun's."
    _run(root, ["--out", str(tmp_path / "acc"), "--set", *SMALL, "batch_size=2"], nproc=2, launcher="accelerate")
    _same_training(tmp_path / "acc", one_process)


def test_an_error_on_every_rank_tears_down_cleanly_and_creates_nothing(root, tmp_path):
    "A setting found bad once the model is loaded (a timestep outside the scheduler): every rank says so and exits cleanly."
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    bad = [a for a in SMALL if not a.startswith("hqs_grid")] + ["hqs_grid=[300, 1000]", "batch_size=2"]
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "sdd_nb.distill",
                        "--out", str(tmp_path / "bad"), "--set", *bad], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and out.count("outside the scheduler's range") >= 2, out[-5000:]
    assert "terminate called" not in out, out[-5000:]                    # no rank aborted in teardown
    assert not (tmp_path / "bad").exists()                               # and no stub run folder
    # an error on rank 0 alone (its check of the run folder: a file) reaches the other rank, which names it
    (tmp_path / "afile").write_text("mine")
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "sdd_nb.distill",
                        "--out", str(tmp_path / "afile"), "--set", *SMALL, "batch_size=2"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "rank 0 failed: NotADirectoryError" in out and "terminate called" not in out, out[-5000:]
    assert (tmp_path / "afile").read_text() == "mine"
