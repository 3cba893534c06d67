"""Calibration of the clean success (sdd_nb.metrics.blend_fit, CLEAN_BLEND, CLEAN_RESIDUAL) on a toy domain.

For each edit prompt of the domain (`--domain`: the faces' 11, the cats', the cars'), on `--n` items of the validation split (where the allowances are chosen) and of the test split
(where they are checked once): the blend and residual of the VAE round trip of the truth (plain D(E(t)) and residual
x + D(E(t)) - D(E(x)), the domain's tiny-sd VAE: the best a latent student can draw) and of cross-fades of truth and source.
Writes figures/clean_calibration.json (faces; cats and cars: clean_calibration_<domain>.json): per split and prompt, the share of each candidate read as clean, the percentiles the residual
allowance comes from (1.25 x the largest 99.5th percentile of the round trips per attribute, rounded up to 0.01), and whether
CLEAN_RESIDUAL holds what the validation split gives.

    python tools/clean_calibration.py                  # 200 faces per prompt and split, a few minutes on one CPU thread
    python tools/clean_calibration.py --domain cats    # the toy cats (and --domain cars)
"""
import argparse, json, math, platform, sys, time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdd_nb.core import machine_name, save_json            # noqa: E402
from sdd_nb.manipulators import VAEGenerator               # noqa: E402
from sdd_nb.metrics import toy_truth, blend_fit, clean_images, CLEAN_BLEND, CLEAN_RESIDUAL, CLEAN_SIGMA   # noqa: E402
from sdd_nb.models import load_sd, DOMAIN_MODELS           # noqa: E402
from sdd_nb.domains import domain, DOMAIN_NAMES            # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="faces per prompt and split")
    ap.add_argument("--domain", default="faces", choices=DOMAIN_NAMES)
    ap.add_argument("--out", default=None, help="default figures/clean_calibration.json (faces), figures/clean_calibration_<domain>.json")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    dom = a.domain
    a.out = a.out or str(ROOT / "figures" / ("clean_calibration.json" if dom == "faces" else f"clean_calibration_{dom}.json"))
    vae = VAEGenerator(load_sd(DOMAIN_MODELS[dom]["sd"]).vae)
    out = {"command": f"python tools/clean_calibration.py --n {a.n}" + (f" --domain {dom}" if dom != "faces" else ""),
           "domain": dom, "machine": f"{machine_name()}, {a.threads} thread(s)",
           "torch": torch.__version__, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M"),
           "sigma": CLEAN_SIGMA, "blend": list(CLEAN_BLEND), "residual_allowance": CLEAN_RESIDUAL.get(dom), "splits": {}}
    p995 = {}
    for split in ("val", "test"):
        rows = {}
        for p in domain(dom).EDIT_PROMPTS:
            tr = toy_truth(p, split, a.n, domain_name=dom)
            x, t, m, k = tr["image"], tr["truth"], tr["mask"], tr["attribute"]
            with torch.no_grad(): rt, rx = vae.decode(vae.encode(t)), vae.decode(vae.encode(x))
            cands = {"round_trip": rt, "residual_round_trip": (x + rt - rx).clamp(-1, 1),
                     **{f"crossfade_{w:.0%}": w * t + (1 - w) * x for w in (0.9, 0.8, 0.7, 0.5)}}
            row = {"attribute": k}
            for name, y in cands.items():
                fit = blend_fit(y, x, t, m)
                clean = clean_images(fit, dom, k)
                row[name] = {"clean": clean.float().mean().item() if clean is not None else None,
                             "blend_p0.5": float(np.quantile(fit["blend"].numpy(), 0.005)),
                             "blend_p99.5": float(np.quantile(fit["blend"].numpy(), 0.995)),
                             "residual_p99.5": float(np.quantile(fit["residual"].numpy(), 0.995))}
                if split == "val" and name.endswith("round_trip"):
                    p995[k] = max(p995.get(k, 0.0), row[name]["residual_p99.5"])
            rows[p] = row
        out["splits"][split] = rows
    derived = {k: math.ceil(125 * v) / 100 for k, v in p995.items()}
    out["residual_allowance_from_val"] = derived
    have = CLEAN_RESIDUAL.get(dom, {})
    out["allowance_matches"] = all(k in have and abs(derived[k] - have[k]) <= 0.011 * max(1, derived[k]) for k in derived)
    te = out["splits"]["test"]
    if have: out["test_checks"] = {"round_trips_clean_min": min(min(r["round_trip"]["clean"], r["residual_round_trip"]["clean"]) for r in te.values()),
                                   "crossfade_70_clean_max": max(r["crossfade_70%"]["clean"] for r in te.values())}
    else: out["test_checks"] = "no allowance for this domain in CLEAN_RESIDUAL yet: put residual_allowance_from_val there and run again"
    out["seconds"] = round(time.perf_counter() - t0, 1)
    save_json(out, a.out)
    print(json.dumps({"residual_allowance_from_val": derived, "allowance_matches": out["allowance_matches"], "test_checks": out["test_checks"]}, indent=1))
    for p, r in te.items():
        print(f"{p:12s} " + "  ".join(f"{n} {v['clean']:.3f}" for n, v in r.items() if n != "attribute" and v["clean"] is not None))


if __name__ == "__main__":
    main()
