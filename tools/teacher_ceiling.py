"""The teacher's own edits, read by the clean success: how clean can a student distilled from this teacher be?

SDD's student learns from the frozen text-to-image model (the embedded tiny-sd on the toy faces). This tool asks what that
teacher draws when it edits with many steps instead of one gradient: SDEdit and DDIB (`sdd_nb.baselines`, 20 DDIM steps,
classifier-free guidance 7.5 as in tradeoff.ipynb) at noise levels `--strengths`, with the bare edit prompt ("white hair";
DDIB's source "a photo of a face", as compare.ipynb) or each face's own caption with the edit (what SDD's default training
reads: `sdd_nb.distill.prompt_pairs`; DDIB's source: the face's caption). Every edit is read by the scorer
(`sdd_nb.metrics.edit_metrics`: edit success, clean success, preservation, PSNR outside the mask, blend, residual).

Settings are chosen on the validation split (the best clean success per prompt over the 2 x 2 x len(strengths) settings,
ties by edit success) and that one setting per prompt is measured once on the test split. The best of many settings on the
same faces is an optimistic ceiling; the test split says how much of it holds.
Writes figures/teacher_ceiling.json (every setting on val, the chosen one on test, machine, command) and
figures/teacher_ceiling.md (the table) and figures/teacher_ceiling_grid.png (test faces: source, the teacher's chosen edit, truth).
Each validation setting's row is saved to <out>.partial.jsonl (rewritten atomically) as it is measured: a killed run started again with the same
arguments measures only what is missing (the file is removed when the run ends).

    python tools/teacher_ceiling.py              # 100 faces per prompt and split, about 70 min on one CPU thread
    python tools/teacher_ceiling.py --n 8 --prompts smiling "white hair" --strengths 0.7 --out /tmp/tc   # a quick look
"""
import argparse, json, platform, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import sdd_nb                                                 # noqa: E402,F401  (libgomp's short spin before torch works)
from sdd_nb.baselines import SDEdit, DDIB                     # noqa: E402
from sdd_nb.core import machine_name, save_json, save_grid, save_text   # noqa: E402
from sdd_nb.distill import DistillConfig, prompt_pairs        # noqa: E402
from sdd_nb.domains import domain                             # noqa: E402
from sdd_nb.metrics import toy_truth, edit_metrics           # noqa: E402
from sdd_nb.models import load_judge, load_sd                # noqa: E402

KEYS = ("edit_success", "clean_success", "preservation", "psnr_outside_mask", "blend", "residual")


def teacher_edit(editors, method, style, strength, tr, prompt, seed=0):
    "One setting's edits of `tr`'s faces: `method` SDEdit or DDIB, `style` 'edit' (the bare prompt) or 'caption' (each face's)."
    if style == "caption":
        specs = [domain("faces").sample_spec(0, int(i)) for i in tr["index"]]      # toy_truth's faces (seed 0)
        tgt, src = prompt_pairs(DistillConfig(prompt=prompt, prompts="caption"), specs)
    else: tgt, src = prompt, "a photo of a face"
    kw = {"source_prompt": src} if method == "DDIB" else {}
    return editors[method].edit(tr["image"], tgt, strength=strength, seed=seed, progress=False, **kw)


def measure(editors, judge, prompt, split, n, settings, done=None, cache=None):
    "Each setting's scores on `n` faces of `split` (and its edits); rows already in `done` (by setting) are reused, new ones added to `cache` (path, rows)."
    tr = toy_truth(prompt, split, n, 64)
    rows, images = [], {}
    for method, style, strength in settings:
        if done and (prompt, split, method, style, strength) in done:
            rows.append(done[(prompt, split, method, style, strength)]); continue
        t0 = time.perf_counter()
        y = teacher_edit(editors, method, style, strength, tr, prompt)
        m = edit_metrics(y, tr, judge)
        rows.append({"prompt": prompt, "split": split, "method": method, "prompts": style, "strength": strength,
                     **{k: m[k] for k in KEYS}, "n_images": n, "ddim_steps": editors[method].steps,
                     "guidance_scale": editors[method].guidance_scale, "seconds": round(time.perf_counter() - t0, 1)})
        images[(method, style, strength)] = y
        if cache is not None:                               # (path, rows so far): rewritten whole, atomically, after each setting
            cache[1].append(rows[-1]); save_text("".join(json.dumps(r) + "\n" for r in cache[1]), cache[0])
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}), flush=True)
    return rows, images, tr


def best(rows):
    return max(rows, key=lambda r: (r["clean_success"], r["edit_success"]))


def table(chosen) -> str:
    "The markdown table: per prompt, the setting chosen on val, its val and test scores; the means."
    pct = lambda v: f"{100 * v:.1f}%"
    lines = ["| prompt | teacher setting (chosen on val) | val: clean [edit success] / preservation / PSNR outside | "
             "test: clean [edit success] / preservation / PSNR outside | blend / residual (test, median) |",
             "| --- | --- | --- | --- | --- |"]
    for p, (v, t) in chosen.items():
        lines.append(f"| {p} | {v['method']}, {v['prompts']} prompt, strength {v['strength']:g} | "
                     f"**{pct(v['clean_success'])}** [{pct(v['edit_success'])}] / {pct(v['preservation'])} / {v['psnr_outside_mask']:.1f} dB | "
                     f"**{pct(t['clean_success'])}** [{pct(t['edit_success'])}] / {pct(t['preservation'])} / {t['psnr_outside_mask']:.1f} dB | "
                     f"{t['blend']:.2f} / {t['residual']:.2f} |")
    mean = lambda s, k: sum(c[s][k] for c in chosen.values()) / len(chosen)
    lines.append(f"| mean | | {pct(mean(0, 'clean_success'))} [{pct(mean(0, 'edit_success'))}] | "
                 f"{pct(mean(1, 'clean_success'))} [{pct(mean(1, 'edit_success'))}] / {pct(mean(1, 'preservation'))} | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="faces per prompt and split")
    ap.add_argument("--prompts", nargs="+", default=None, help="default: the toy faces' 11 edit prompts")
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.5, 0.7, 0.9, 1.0], help="noise levels (1: SDEdit from pure noise, DDIB's full bridge)")
    ap.add_argument("--ddim-steps", type=int, default=20)
    ap.add_argument("--guidance-scale", type=float, default=7.5)
    ap.add_argument("--out", default=str(ROOT / "figures" / "teacher_ceiling"), help="output path without suffix (.json, .md, _grid.png)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    prompts = a.prompts or list(domain("faces").EDIT_PROMPTS)
    bad = [p for p in prompts if not domain("faces").knows(p)]
    if bad: raise SystemExit(f"not toy-face edit prompts: {bad}; choose from {list(domain('faces').EDIT_PROMPTS)}")
    if any(not 0 < s <= 1 for s in a.strengths): raise SystemExit(f"--strengths must be in (0, 1]; got {a.strengths}")
    if a.n < 1: raise SystemExit("--n must be at least 1")
    out_path = Path(a.out)
    if out_path.with_suffix(".json").exists() and out_path.parent.resolve() != (ROOT / "figures").resolve():
        raise SystemExit(f"{out_path.with_suffix('.json')} exists: choose another --out (results are not overwritten outside figures/)")
    torch.set_num_threads(a.threads)
    t_all = time.perf_counter()
    kw = {"steps": a.ddim_steps, "guidance_scale": a.guidance_scale}
    pipe = load_sd("tiny-sd")                                 # one pipeline, shared by both editors
    editors = {"SDEdit": SDEdit(pipe, **kw), "DDIB": DDIB(pipe, **kw)}
    judge = load_judge("scorer", "cpu")                       # trains nothing
    settings = [(m, s, x) for m in editors for s in ("edit", "caption") for x in a.strengths]
    cache = Path(str(out_path) + ".partial.jsonl")            # a killed run resumes: the settings measured so far, for these arguments
    key = {"n_images": a.n, "ddim_steps": a.ddim_steps, "guidance_scale": a.guidance_scale}
    done = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            r = json.loads(line)
            if all(r.get(k) == v for k, v in key.items()): done[(r["prompt"], r["split"], r["method"], r["prompts"], r["strength"])] = r
        print(f"resuming: {len(done)} settings already measured ({cache})", flush=True)
    measured = (cache, list(done.values()))                   # the resume file and every row it holds, kept across prompts
    val_rows, test_rows, chosen, grid, labels = [], [], {}, [], []
    for p in prompts:
        rows, _, _ = measure(editors, judge, p, "val", a.n, settings, done, measured)
        val_rows += rows
        b = best(rows)
        t, images, tr = measure(editors, judge, p, "test", a.n, [(b["method"], b["prompts"], b["strength"])])
        test_rows += t; chosen[p] = (b, t[0])
        k = min(6, a.n)
        grid += [tr["image"][:k], next(iter(images.values()))[:k], tr["truth"][:k]]
        labels += [f"{p}: source", f"{b['method']} {b['prompts']} {b['strength']:g}", "truth"]
    cmd = "python tools/teacher_ceiling.py" + (f" --n {a.n}" if a.n != 100 else "") + \
          (" --prompts " + " ".join(f'"{p}"' for p in prompts) if a.prompts else "") + \
          (" --strengths " + " ".join(f"{s:g}" for s in a.strengths) if a.strengths != [0.5, 0.7, 0.9, 1.0] else "")
    out = {"command": cmd, "machine": machine_name(), "torch": torch.__version__, "resumed_settings": len(done),
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M"), "teacher": "tiny-sd",
           "ddim_steps": a.ddim_steps, "guidance_scale": a.guidance_scale, "strengths": a.strengths, "n_images": a.n,
           "scorer": "scorer (trains nothing)", "val": val_rows, "test": test_rows,
           "chosen": {p: {"method": v["method"], "prompts": v["prompts"], "strength": v["strength"]} for p, (v, _) in chosen.items()}}
    md = out["table_md"] = table(chosen)
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_json(out, out_path.with_suffix(".json"))
    about = (f"The teacher's multi-step edits (tiny-sd; SDEdit and DDIB, {a.ddim_steps} DDIM steps, guidance {a.guidance_scale:g}), "
             f"{a.n} faces per prompt and split, read by the scorer; the setting with the best clean success on the validation split, "
             f"measured once on the test split. {out['machine']}, {out['date']}: `{cmd}`.")
    save_text(f"{md}\n\n{about}\n", out_path.with_suffix(".md"))
    save_grid(grid, Path(str(out_path) + "_grid.png"), row_labels=labels, scale=2)
    cache.unlink(missing_ok=True)
    print(md)


if __name__ == "__main__":
    main()
