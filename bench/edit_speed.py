"""Inference speed of trained SDD manipulators against SDEdit on the same faces and device, written as JSON.

    python bench/edit_speed.py RUN [RUN ...] --out bench/results/edit_speed_cpu.json

Each RUN is a run folder (e.g. the test sweep's `_runs/sweep_test/default-largest/smiling-seed0`). The manipulator edits
`--n` test faces in batches of 50 (median of `--repeats` passes after a warm-up, `distill.inference_speed`); SDEdit
(`baselines.SDEdit`, the run's supervisor, DDIM `--sdedit-steps` steps at strength 0.6, guidance 7.5) edits `--n-sdedit`
of the same faces in one batch (one timed pass after a warm-up). `--decoders vae tiny-sd-taesd` times each latent mapper with
its supervisor's VAE and with the fast autoencoder. The issue on clean edits asks for >= 20x SDEdit.
Run it with nothing else on the machine: it measures wall time.
"""
import argparse, time
from pathlib import Path

import numpy as np
import torch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders of trained manipulators")
    ap.add_argument("--n", type=int, default=200, help="test faces the manipulators edit")
    ap.add_argument("--n-sdedit", type=int, default=16, help="test faces SDEdit edits")
    ap.add_argument("--sdedit-steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--decoders", nargs="+", default=["vae"], help="autoencoders of a VAE latent mapper to time it with: vae (the run's "
                    "supervisor's) and/or an AutoencoderTiny for its latents (the embedded tiny-sd-taesd, a folder, a hub id)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "edit_speed_cpu.json"))
    a = ap.parse_args(argv)
    for r in a.runs:                                                  # every input checked before anything is loaded
        if not (Path(r) / "manipulator.safetensors").is_file(): ap.error(f"{r} is not a finished run folder (no manipulator.safetensors)")
    from sdd_nb.core import get_device, machine_name, save_json, time_calls
    from sdd_nb.distill import DistillConfig, load_manipulator, inference_speed
    cfgs = [DistillConfig.from_run(r) for r in a.runs]
    if len({(c.model, c.image_size, c.data) for c in cfgs}) != 1:
        ap.error("the runs use different supervisors, image sizes or data: one SDEdit comparison needs one of each")
    if cfgs[0].data != "toyfaces": ap.error("the benchmark edits toy test faces: give runs trained on data='toyfaces'")
    from sdd_nb.baselines import SDEdit
    from sdd_nb.toyfaces import ToyFaces
    device = get_device(a.device)
    x = ToyFaces("test", a.n, cfgs[0].image_size).images().to(device)
    rows = []
    for r, cfg in zip(a.runs, cfgs):
        for dec in a.decoders if cfg.manipulator == "latent" else ["vae"]:
            m = load_manipulator(r, device, decoder=dec)
            ips = inference_speed(m, x, repeats=a.repeats)
            rows.append({"run": str(r), "prompt": cfg.prompt, "manipulator": cfg.manipulator, "decoding": cfg.decoding, "decoder": dec,
                         "images_per_second": round(ips, 1)})
            print(f"{r} ({dec}): {ips:.1f} images/s")
    sd = SDEdit.from_pretrained(cfgs[0].model, device=device, steps=a.sdedit_steps, batch_size=a.n_sdedit)
    xs = x[:a.n_sdedit]
    t = time_calls(lambda: sd.edit(xs, rows[0]["prompt"], strength=0.6, progress=False), repeats=1, device=device)
    sdedit_ips = a.n_sdedit / t[0]
    for row in rows: row["speedup_vs_sdedit"] = round(row["images_per_second"] / sdedit_ips, 1)
    res = {"benchmark": "SDD inference vs SDEdit", "faces": a.n, "sdedit_faces": a.n_sdedit, "sdedit_steps": a.sdedit_steps,
           "sdedit_strength": 0.6, "sdedit_images_per_second": round(sdedit_ips, 2), "runs": rows,
           "median_speedup": float(np.median([r["speedup_vs_sdedit"] for r in rows])),
           "median_speedup_by_decoder": {d: float(np.median([r["speedup_vs_sdedit"] for r in rows if r["decoder"] == d])) for d in dict.fromkeys(r["decoder"] for r in rows)},
           "machine": machine_name(device), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
           "command": "python bench/edit_speed.py " + " ".join(argv if argv is not None else __import__("sys").argv[1:])}
    save_json(res, a.out)
    print(f"SDEdit {sdedit_ips:.2f} images/s; median speed-up {res['median_speedup']}x -> {a.out}")
    return res


if __name__ == "__main__":
    main()
