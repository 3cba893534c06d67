"""`python -m sdd_nb.reproduce --quick` runs every experiment notebook; a failing one is reported and the rest still run."""
import json
import subprocess

import pandas as pd


def test_reproduce_quick_runs_everything_and_reports_failures(root, tmp_path, python):
    out = tmp_path / "repro"
    # a bad device makes every notebook fail: the command goes on, names them, and exits 1
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--only", "hqs,ablation", "--out", str(out / "bad"),
                        "--device", "nonsense"], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED hqs" in r.stdout and "FAILED ablation" in r.stdout
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--seeds", "0", "0", "--out", str(out / "x")], cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "distinct" in r.stderr and not (out / "x").exists()
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--out", str(out / "ok")], cwd=root,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    s = json.loads((out / "ok" / "summary.json").read_text())
    assert set(s["results"]) == {"hqs", "tradeoff", "ablation", "compare", "figure7", "table2"} and all(v["ok"] for v in s["results"].values())
    figs = {p.name for p in (out / "ok" / "figures").iterdir()}
    assert {"hqs_curves.png", "tradeoff.png", "ablation.csv", "compare_table1.csv", "figure7.png", "figure5.png", "table2.md"} <= figs
    # per-face results, the claims with their design, the generated tables; --quick is one seed and says so
    assert {"tradeoff_faces.csv", "ablation_faces.csv", "compare_faces.csv", "claims.md", "table1.md", "table3.md", "seeds.json",
            "tradeoff_intervals.png", "ablation_intervals.png"} <= figs
    assert s["seeds"] == [0] and "--seeds 0" in s["command"]
    claims = json.loads((out / "ok" / "figures" / "claims.json").read_text())
    assert "1 seed(s) x 1 prompt(s) x 3 faces" in claims["hqs_beats_random"]["design"]
    assert all(c["verdict"] in ("holds", "does not hold", "inconclusive", "untested") for c in claims.values())
    t2 = pd.read_csv(out / "ok" / "figures" / "table2_faces.csv")     # Table 2: three domains, each with its own models
    assert set(t2.domain) == {"faces", "cats", "cars"} and set(t2.method) == {"SDD", "StyleCLIP-style"} and len(t2) == 3 * 2 * 3
    for k in ("sdd_beats_styleclip_faces", "sdd_beats_styleclip_cats", "sdd_beats_styleclip_cars", "sdd_beats_styleclip_side_view"):
        assert claims[k]["verdict"] != "untested" and "could not be computed" not in claims[k]["evidence"], claims[k]
    assert "| cats | SDD |" in (out / "ok" / "figures" / "table2.md").read_text()
    faces = pd.read_csv(out / "ok" / "figures" / "tradeoff_faces.csv")
    assert len(faces) == 3 * 3 and set(faces.columns) >= {"seed", "prompt", "method", "alpha", "face", "edit_success", "psnr_outside_mask"}
    assert all((out / "ok" / f"{n}.ipynb").exists() for n in s["results"])
    # what each quick notebook measured
    t = pd.read_csv(out / "ok" / "figures" / "tradeoff.csv")
    assert sorted(t.method) == ["DDIB", "SDD", "SDEdit"]
    assert t.fid_feature.eq("tiny-clip").all() and t.clip_convention.eq("tiny-clip/toy").all()
    a = pd.read_csv(out / "ok" / "figures" / "ablation.csv").set_index("strategy")
    assert list(a.index) == ["random", "small threshold", "large threshold", "largest HQS"]
    assert a.loc["largest HQS", "n_timesteps"] == 1 and a.loc["random", "n_timesteps"] == 961
    assert a.mean_hqs.notna().all() and a.loc["largest HQS", "mean_hqs"] >= a.mean_hqs.max() - 1e-9
    c = pd.read_csv(out / "ok" / "figures" / "compare_table1.csv").set_index("method")
    assert list(c.index) == ["SDEdit", "DDIB", "SDD", "SDD (defaults)", "StyleCLIP-style"]   # the paper's objective and ours
    assert c.loc["SDD", "of which training (s)"] > 0 and c.loc["SDEdit", "of which training (s)"] == 0

    # a seed added to that run: only its trained experiments run (the baselines do not train: seed 0's are reused), into
    # its own folders; the claims then rest on both seeds, paired on the same faces
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--add-seeds", "1", "--only", "tradeoff,compare", "--out", str(out / "ok")],
                       cwd=root, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    s2 = json.loads((out / "ok" / "summary.json").read_text())
    assert set(s2["results"]) == {"hqs", "tradeoff", "ablation", "compare", "figure7", "table2", "tradeoff-seed1", "compare-seed1"} and s2["seeds"] == [0, 1]
    assert " && " in s2["command"] and "--add-seeds 1" in s2["command"] and s2["seconds_this_call"] < s2["total_seconds"]
    f1 = pd.read_csv(out / "ok" / "figures" / "seeds" / "seed1" / "tradeoff_faces.csv")
    assert set(f1.method) == {"SDD"} and set(f1.seed) == {1} and (out / "ok" / "runs" / "tradeoff-seed1").exists()
    claims = json.loads((out / "ok" / "figures" / "claims.json").read_text())
    assert "2 seed(s) x 1 prompt(s) x 3 faces" in claims["sdd_above_tradeoff"].get("design", ""), claims["sdd_above_tradeoff"]
    table1 = (out / "ok" / "figures" / "table1.md").read_text()
    assert "| SDD, the paper's objective |" in table1 and "| SDD, our defaults |" in table1 and "seeds [0, 1]" in table1
    # run again: every job finished with these parameters, so nothing runs; a seed already there cannot be added again
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--seeds", "0", "1", "--only", "tradeoff", "--out", str(out / "ok")],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.count("skipped") == 2, r.stdout[-3000:] + r.stderr[-3000:]
    s3 = json.loads((out / "ok" / "summary.json").read_text())
    assert s3["seconds_this_call"] == 0 and set(s3["results"]) == set(s2["results"])     # --only with the same seeds keeps the other jobs
    r = subprocess.run([python, "-m", "sdd_nb.reproduce", "--quick", "--add-seeds", "1", "--out", str(out / "ok")], cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "already have results" in r.stderr


def test_ctrl_c_keeps_what_finished_and_names_the_rest(tmp_path, monkeypatch):
    import sdd_nb.reproduce as rp
    calls = []
    def fake_run(name, params, executed, progress):          # the second notebook is interrupted by Ctrl-C
        calls.append(name)
        if len(calls) == 2: raise KeyboardInterrupt
        return {"ok": True, "seconds": 1.0, "error": None}
    monkeypatch.setattr(rp, "_run_notebook", fake_run)
    res = rp.reproduce(tmp_path / "o", quick=True, only="hqs,tradeoff,ablation", progress=False)
    assert calls == ["hqs", "tradeoff"] and res["hqs"]["ok"]
    assert all(not res[k]["ok"] and "interrupted" in res[k]["error"] for k in ("tradeoff", "ablation"))
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert set(s["results"]) == {"hqs", "tradeoff", "ablation"} and "--only hqs,tradeoff,ablation" in s["command"]


def test_a_job_finished_with_other_weights_runs_again(tmp_path, monkeypatch):
    import sdd_nb.reproduce as rp
    calls = []
    monkeypatch.setattr(rp, "_run_notebook", lambda name, *a: calls.append(name) or {"ok": True, "seconds": 1.0, "error": None})
    rp.reproduce(tmp_path / "o", quick=True, only="hqs", progress=False)
    rec = json.loads((tmp_path / "o" / "summary.json").read_text())["results"]["hqs"]
    assert set(rec["weights"]) == {"tiny-sd", "tiny-clip", "judge", "scorer"} and rec["machine"]      # the faces' models, hashed
    monkeypatch.setattr(rp, "finished", lambda *a, **k: 1.0)             # its notebook finished with these parameters
    rp.reproduce(tmp_path / "o", quick=True, only="hqs", progress=False)
    assert calls == ["hqs"]                                               # the same weights: reused
    real = rp.experiment_weights
    monkeypatch.setattr(rp, "experiment_weights", lambda name: real(name) | {"tiny-sd": "0" * 16})   # tiny-sd retrained since
    rp.reproduce(tmp_path / "o", quick=True, only="hqs", progress=False)
    assert calls == ["hqs", "hqs"]
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["results"]["hqs"]["weights"]["tiny-sd"] == "0" * 16
