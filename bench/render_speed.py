"""Toy-world rendering speed on one CPU core: images per second at a given size, written as JSON.

    python bench/render_speed.py                      # 2,048 faces at 64x64 -> bench/results/render_speed.json
    python bench/render_speed.py --domain cats        # toy cats -> bench/results/render_speed_cats.json (cars likewise)
    python bench/render_speed.py --n 256 --out /tmp/r.json

The target (the toy world's issues) is at least 300 images/s at 64x64 on one core, in every domain.
"""
import os
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"): os.environ[_v] = "1"
import argparse, time
from pathlib import Path

import numpy as np
import torch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domain", default="faces", choices=["faces", "cats", "cars"], help="which toy domain")
    ap.add_argument("--n", type=int, default=2048, help="images to render per repeat")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=256, help="images per vectorised render call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--masks", action="store_true", help="also compute the attribute masks")
    ap.add_argument("--out", default=None, help="default: bench/results/render_speed.json (faces), render_speed_<domain>.json")
    a = ap.parse_args(argv)
    a.out = a.out or str(Path(__file__).parent / "results" / ("render_speed.json" if a.domain == "faces" else f"render_speed_{a.domain}.json"))
    torch.set_num_threads(1)
    from sdd_nb.domains import domain
    render, sample_spec = domain(a.domain).render, domain(a.domain).sample_spec
    from sdd_nb.core import save_json, machine_name, time_calls
    specs = [sample_spec(0, i) for i in range(a.n)]
    render(specs[: min(8, a.n)], a.size, masks=a.masks)  # warm up
    times = time_calls(lambda: [render(specs[j:j + a.batch], a.size, masks=a.masks) for j in range(0, a.n, a.batch)], a.repeats, warmup=0)
    t0 = time.perf_counter(); [sample_spec(0, i) for i in range(a.n)]; t_spec = time.perf_counter() - t0
    best = min(times)
    what = {"faces": "toy-face", "cats": "toy-cat", "cars": "toy-car"}[a.domain]
    res = {"benchmark": f"{what} rendering", "domain": a.domain, "faces" if a.domain == "faces" else "images": a.n, "size": a.size, "batch": a.batch, "masks": a.masks,
           "faces_per_s" if a.domain == "faces" else "images_per_s": round(a.n / best, 1),
           "faces_per_s_median" if a.domain == "faces" else "images_per_s_median": round(a.n / float(np.median(times)), 1),
           "spec_sampling_per_s": round(a.n / t_spec, 1), "threads": 1,
           "machine": machine_name("cpu"), "cores": os.cpu_count(), "torch": torch.__version__,
           "numpy": np.__version__, "date": time.strftime("%Y-%m-%d")}
    out = save_json(res, a.out)                                       # atomically
    print(f"{a.n / best:.0f} {a.domain}/s at {a.size}x{a.size} on one CPU core (best of {a.repeats}, batches of {a.batch}"
          f"{', with masks' if a.masks else ''}); written to {out}")
    return res


if __name__ == "__main__":
    main()
