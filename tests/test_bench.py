"""bench/paper_scale.py runs every code path (at toy size here; the paper's size is for a GPU) and writes its JSON."""
import json
import os
import subprocess


def test_paper_scale_bench_runs_at_toy_size(root, tmp_path, python):
    out = tmp_path / "ps.json"
    r = subprocess.run([python, "bench/paper_scale.py", "--tiny", "--repeats", "1", "--out", str(out)], cwd=root,
                       env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    d = json.loads(out.read_text())
    assert set(d["results"]) == {"distill_step", "hqs_search_sequential", "hqs_search_batched", "sdd_stylegan", "sdd_pixel", "sdedit", "ddib"}
    assert all(v["median_ms"] > 0 for v in d["results"].values())
    assert d["results"]["sdd_pixel"]["speedup_vs_sdedit"] > 0 and "toy size" in d["benchmark"]
