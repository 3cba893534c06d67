"""tools/teacher_ceiling.py: the teacher's multi-step edits read by the clean success (tiny run), and its bad inputs."""
import json
import os
import subprocess


def _run(root, python, *args):
    return subprocess.run([python, "tools/teacher_ceiling.py", *args], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=600)


def test_teacher_ceiling_tiny_run(root, tmp_path, python):
    out = tmp_path / "tc"
    # a killed run left one setting measured: the run started again reuses it and measures the rest
    kept = {"prompt": "smiling", "split": "val", "method": "DDIB", "prompts": "edit", "strength": 0.5, "edit_success": 0.5,
            "clean_success": 0.5, "preservation": 1.0, "psnr_outside_mask": 30.0, "blend": 1.0, "residual": 0.1, "n_images": 2,
            "ddim_steps": 20, "guidance_scale": 7.5, "seconds": -1}
    (tmp_path / "tc.partial.jsonl").write_text(json.dumps(kept) + "\n")
    r = _run(root, python, "--n", "2", "--prompts", "smiling", "--strengths", "0.5", "--out", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    d = json.loads(out.with_suffix(".json").read_text())
    assert len(d["val"]) == 4 and len(d["test"]) == 1                 # SDEdit, DDIB x bare prompt, caption; the chosen one on test
    assert {(v["method"], v["prompts"]) for v in d["val"]} == {("SDEdit", "edit"), ("SDEdit", "caption"), ("DDIB", "edit"), ("DDIB", "caption")}
    assert [v["seconds"] for v in d["val"]].count(-1) == 1 and "resuming: 1 settings" in r.stdout
    assert not (tmp_path / "tc.partial.jsonl").exists()                 # removed when the run ends
    chosen = d["chosen"]["smiling"]
    assert max(d["val"], key=lambda v: (v["clean_success"], v["edit_success"]))["method"] == chosen["method"]
    assert all(0 <= v["clean_success"] <= v["edit_success"] <= 1 for v in d["val"] + d["test"])
    assert "| smiling |" in out.with_suffix(".md").read_text() and (tmp_path / "tc_grid.png").stat().st_size > 0
    again = _run(root, python, "--n", "2", "--prompts", "smiling", "--out", str(out))     # results outside figures/ are not overwritten
    assert again.returncode != 0 and "exists" in again.stderr


def test_teacher_ceiling_bad_inputs(root, python):
    r = _run(root, python, "--prompts", "purple hair")
    assert r.returncode != 0 and "not toy-face edit prompts: ['purple hair']" in r.stderr
    r = _run(root, python, "--strengths", "1.5")
    assert r.returncode != 0 and "--strengths must be in (0, 1]" in r.stderr


def test_teacher_ceiling_resume_file_keeps_every_prompt(root, tmp_path):
    "The resume file holds every setting measured so far, across prompts (what a killed run starts again from)."
    import importlib.util
    spec = importlib.util.spec_from_file_location("teacher_ceiling", root / "tools" / "teacher_ceiling.py")
    tc = importlib.util.module_from_spec(spec); spec.loader.exec_module(tc)
    from sdd_nb.models import load_judge
    editors = {"DDIB": tc.DDIB.from_pretrained("tiny-sd", steps=4)}
    cache = tmp_path / "tc.partial.jsonl"
    measured = (cache, [])
    for p in ("smiling", "beard"):
        tc.measure(editors, load_judge("scorer", "cpu"), p, "val", 2, [("DDIB", "edit", 0.5)], {}, measured)
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["smiling", "beard"] and all(r["ddim_steps"] == 4 for r in rows)
