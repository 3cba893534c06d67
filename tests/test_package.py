"""The package works from a plain script, the README is in step, the benchmark writes JSON."""
import json, subprocess


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


def test_readme_opens_with_the_two_commands(root):
    text = (root / "README.md").read_text()
    assert "make demo" in text and "make test" in text
    assert "make test" in (root / ".ci" / "run").read_text()


def test_render_benchmark_writes_json(root, tmp_path, python):
    out = tmp_path / "r.json"
    subprocess.run([python, str(root / "bench" / "render_speed.py"), "--n", "64", "--repeats", "1", "--out", str(out)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    assert res["faces"] == 64 and res["faces_per_s"] > 0 and res["threads"] == 1
