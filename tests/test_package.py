"""The package works from a plain script, the README is in step, the benchmark writes JSON."""
import json, subprocess

import pytest


def test_import_from_a_plain_script(tmp_path, python):
    script = tmp_path / "use.py"
    script.write_text("import sdd_nb\nfrom sdd_nb.toyfaces import toy_face, edit\n"
                      "f = toy_face(0, 1); g = edit(f, glasses='yes' if f.attributes['glasses'] == 'no' else 'no')\n"
                      "print(sdd_nb.__version__, tuple(g.image.shape))\n")
    out = subprocess.run([python, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "(3, 64, 64)" in out


def test_readme_in_step_with_index(root, python):
    r = subprocess.run([python, str(root / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_includes_results_files(root, tmp_path, monkeypatch):
    import importlib.util, json
    spec = importlib.util.spec_from_file_location("readme_tool", root / "tools" / "readme.py")
    tool = importlib.util.module_from_spec(spec); spec.loader.exec_module(tool)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    (tmp_path / "t.md").write_text("| a |\n| --- |\n| 1 |\n")
    nb = {"cells": [{"cell_type": "markdown", "source": ["Table:\n", "<!-- include: t.md -->\n", "after"]}]}
    (tmp_path / "i.ipynb").write_text(json.dumps(nb))
    text = tool.render(tmp_path / "i.ipynb")
    assert "<!-- from t.md -->\n| a |\n| --- |\n| 1 |\nafter" in text
    (tmp_path / "t.md").unlink()
    with pytest.raises(SystemExit, match="t.md, which does not exist"):
        tool.render(tmp_path / "i.ipynb")


def test_readme_opens_with_the_two_commands(root):
    text = (root / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (root / ".ci" / "run").read_text()


def test_render_benchmark_writes_json(root, tmp_path, python):
    out = tmp_path / "r.json"
    subprocess.run([python, str(root / "bench" / "render_speed.py"), "--n", "64", "--repeats", "1", "--out", str(out)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    assert res["faces"] == 64 and res["faces_per_s"] > 0 and res["threads"] == 1
    subprocess.run([python, str(root / "bench" / "render_speed.py"), "--domain", "cars", "--n", "32", "--repeats", "1", "--out", str(out)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    assert res["domain"] == "cars" and res["images"] == 32 and res["images_per_s"] > 0


def test_edit_speed_benchmark_writes_json_and_refuses_a_non_run(root, tmp_path, python):
    from sdd_nb.distill import DistillConfig, train
    run = train(DistillConfig(prompt="smiling", selection="fixed:500", steps=1, batch_size=2,      # a latent mapper (the default)
                              train_images=4, eval_images=2, ckpt_every=1, sample_every=1), tmp_path / "run", progress=False)
    out = tmp_path / "s.json"
    subprocess.run([python, str(root / "bench" / "edit_speed.py"), str(run), "--n", "4", "--n-sdedit", "2", "--sdedit-steps", "2",
                    "--repeats", "1", "--decoders", "vae", "tiny-sd-taesd", "--out", str(out)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    assert [r["decoder"] for r in res["runs"]] == ["vae", "tiny-sd-taesd"] and set(res["median_speedup_by_decoder"]) == {"vae", "tiny-sd-taesd"}
    assert all(r["images_per_second"] > 0 and r["speedup_vs_sdedit"] > 0 for r in res["runs"]) and res["sdedit_images_per_second"] > 0
    r = subprocess.run([python, str(root / "bench" / "edit_speed.py"), str(tmp_path), "--out", str(tmp_path / "x.json")], capture_output=True, text=True)
    assert r.returncode != 0 and "not a finished run folder" in r.stderr and not (tmp_path / "x.json").exists()


def test_train_wall_benchmark_writes_json_and_keeps_foreign_folders(root, tmp_path, python):
    out, work = tmp_path / "w.json", tmp_path / "work"
    args = [python, str(root / "bench" / "train_wall.py"), "--prompt", "smiling", "--work", str(work), "--out", str(out), "--param",
            "steps=2", "batch_size=2", "hqs_images=2", "hqs_step=400", "train_images=8", "eval_images=4", "sdedit_images=0"]
    subprocess.run(args, check=True, capture_output=True, cwd=tmp_path)
    res = json.loads(out.read_text())
    assert res["wall_seconds"] > 0 and res["steps"] == 2 and res["guidance"] == "dds" and 0 <= res["edit_success"] <= 1
    subprocess.run(args, check=True, capture_output=True, cwd=tmp_path)             # its own scratch folder is replaced
    mine = tmp_path / "mine"; mine.mkdir(); (mine / "keep.txt").write_text("x")
    r = subprocess.run(args[:5] + [str(mine)] + args[6:], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and "not this benchmark's scratch folder" in r.stderr and (mine / "keep.txt").exists()
