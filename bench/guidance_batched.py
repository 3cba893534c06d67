"""The timestep search's cost: guidance gradients of one image at 17 timesteps (the HQS grid 100..900),
one timestep at a time (chunk=1) against one batched pass (chunk=17). JSON out.

    python bench/guidance_batched.py                         # tiny-sd on the CPU -> bench/results/guidance_batched_cpu.json
    python bench/guidance_batched.py --arch sd-v1 --device cuda --dtype bfloat16
                                                             # SD v1.x size, random weights, 512 px -> ..._cuda.json

The recipe's anchor (SD v1.x, 512 px, bf16, one H200): 1288 ms one t at a time, 319 ms batched (4.0x).
Speed does not depend on the weights, so `--arch sd-v1` builds the architecture with random ones.
"""
import argparse, statistics, time
from pathlib import Path

import torch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["tiny-sd", "sd-v1"], default="tiny-sd", help="embedded tiny-sd, or SD v1.x size with random weights")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    ap.add_argument("--timesteps", type=int, default=17)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    from sdd_nb.guidance import Supervisor
    from sdd_nb.models import sd_v1_components
    from sdd_nb.core import save_json, machine_name
    dtype = getattr(torch, a.dtype)
    if a.arch == "tiny-sd": sup = Supervisor.from_pretrained("tiny-sd", device=a.device, dtype=dtype)
    else:
        c = sd_v1_components(dtype=dtype)
        sup = Supervisor(c["vae"], c["unet"], c["text_encoder"], c["tokenizer"], c["scheduler"], device=a.device, dtype=dtype)
    ts = torch.linspace(100, 900, a.timesteps).round().long().tolist()
    size = sup.image_size
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noise = sup.noise_like(1, torch.Generator().manual_seed(0))
    from sdd_nb.core import time_calls
    run = lambda chunk: sup.image_grads(x, "smiling", ts, noise=noise, chunk=chunk)
    res = {}
    for name, chunk in [("sequential", 1), ("batched", len(ts))]:
        run(chunk)                                                        # warm up
        if sup.device.type == "cuda": torch.cuda.reset_peak_memory_stats()
        times = time_calls(lambda: run(chunk), a.repeats, sup.device, warmup=0)
        res[name] = {"chunk": chunk, "median_ms": round(1e3 * statistics.median(times), 1), "min_ms": round(1e3 * min(times), 1)}
        if sup.device.type == "cuda": res[name]["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    seq, bat = res["sequential"]["median_ms"], res["batched"]["median_ms"]
    machine = machine_name(sup.device)
    out = {"benchmark": "guidance gradients of one image at K timesteps", "arch": a.arch, "image_size": size,
           "timesteps": ts, "device": str(sup.device), "dtype": a.dtype, "machine": machine, "torch": torch.__version__,
           **res, "speedup": round(seq / bat, 2), "recipe_anchor": {"sequential_ms": 1288, "batched_ms": 319, "speedup": 4.0,
           "setting": "SD v1.x 512 px bf16, one H200"}, "date": time.strftime("%Y-%m-%d")}
    path = Path(a.out or Path(__file__).parent / "results" / f"guidance_batched_{sup.device.type}.json")
    save_json(out, path, indent=1)                                    # atomically: a kill never leaves half a file
    print(f"{a.arch} {size}px {a.dtype} on {machine}: {len(ts)} timesteps sequential {seq} ms, batched {bat} ms -> {out['speedup']}x  ({path})")
    return out


if __name__ == "__main__":
    main()
