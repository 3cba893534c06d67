"""Wall time of the main job, `train.ipynb` for one prompt with its defaults (selection, training, evaluation), as JSON.

    python bench/train_wall.py --prompt surprised --out bench/results/train_wall_cpu.json

Runs `papermill nbs/train.ipynb` into a fresh run folder under --work (removed first if it holds this benchmark's earlier
run) and records the wall time of the whole command and the parts `train.ipynb` reports (HQS search, training, SDEdit
comparison). The issue on clean edits asks for <= 300 s per prompt on a 2-core CPU with nothing else running: run it so.
"""
import argparse, json, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="surprised")
    ap.add_argument("--work", default=str(ROOT / "_runs" / "bench_train_wall"), help="scratch folder of this benchmark")
    ap.add_argument("--param", nargs="*", default=[], metavar="KEY=VALUE", help="more train.ipynb parameters (papermill -p)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_wall_cpu.json"))
    a = ap.parse_args(argv)
    for kv in a.param:
        if "=" not in kv: ap.error(f"--param takes KEY=VALUE; got {kv!r}")
    from sdd_nb.core import machine_name, save_json
    work = Path(a.work)
    if work.exists():
        if not (work / ".bench_train_wall").exists(): ap.error(f"{work} exists and is not this benchmark's scratch folder: pass another --work")
        shutil.rmtree(work)
    work.mkdir(parents=True); (work / ".bench_train_wall").touch()
    run = work / "run"
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "nbs" / "train.ipynb"), str(work / "train.ipynb"), "-p", "prompt", a.prompt,
           "-p", "out_dir", str(run), "--log-level", "WARNING"]
    for kv in a.param: k, v = kv.split("=", 1); cmd += ["-p", k, v]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    m = json.loads((run / "metrics.json").read_text())
    res = {"benchmark": "train.ipynb wall time for one prompt", "prompt": a.prompt, "wall_seconds": round(wall, 1),
           "hqs_seconds": m.get("hqs_seconds"), "train_seconds": m.get("train_seconds"),
           "images_per_second": m.get("images_per_second"), "sdedit_images_per_second": m.get("sdedit_images_per_second"),
           "speedup_vs_sdedit": m.get("speedup_vs_sdedit"), "edit_success": m.get("edit_success"), "preservation": m.get("preservation"),
           "steps": m["parameters"]["steps"], "guidance": m["parameters"]["guidance"], "machine": machine_name("cpu"),
           "date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(["python bench/train_wall.py"] + (argv if argv is not None else sys.argv[1:]))}
    save_json(res, a.out)
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
