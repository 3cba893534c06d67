"""A distillation step on a busy CPU: how PyTorch's CPU threads behave when another process wants a core too. JSON out.

    python bench/busy_cpu.py          # tiny-sd on the CPU -> bench/results/busy_cpu_cpu.json

Each setting runs in a fresh process (libgomp reads its settings when torch loads): torch threads 1 or 2, libgomp's
default spin (300000 iterations before a waiting thread sleeps) or the short one `import sdd_nb` sets (GOMP_SPINCOUNT=10000),
on an idle machine or beside one CPU-bound process (a Python busy loop). The step is `train`'s: the residual latent mapper's
forward pass, `sdd_loss` (DDS with caption-style prompts at one timestep, pixel L1, the code penalty), backward, AdamW.
The numbers are this machine's: what they show is the ratio between the rows, not a speed to expect elsewhere.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path


def worker(steps: int, threads: int) -> dict:
    import torch                                                     # first: sdd_nb's spin setting must not apply here
    torch.set_num_threads(threads)
    from sdd_nb.guidance import Supervisor
    from sdd_nb.manipulators import VAEGenerator, LatentMapper
    from sdd_nb.distill import DistillConfig, sdd_loss
    from sdd_nb.toyfaces import ToyFaces
    cfg = DistillConfig(prompt="white hair").check()
    sup = Supervisor.from_pretrained("tiny-sd")
    manip = LatentMapper(VAEGenerator(sup.vae), residual=True)
    opt = torch.optim.AdamW(manip.parameters(), lr=cfg.lr)
    x = ToyFaces("train", 8).images()
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        y = manip(x)
        terms = sdd_loss(cfg, y, x, sup, torch.full((8,), 800), sup.noise_like(8, g), "a face with white hair", "a face",
                         student_terms=manip.regularizers(x, y))
        opt.zero_grad(); terms["loss"].backward(); opt.step()
        times.append(time.perf_counter() - t0)
    return {"threads": torch.get_num_threads(), "step_seconds": times}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12, help="steps per setting (the first two are warm-up)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)   # threads of one measuring process
    a = ap.parse_args(argv)
    if a.worker is not None:
        print(json.dumps(worker(a.steps, a.worker))); return
    import torch
    from sdd_nb.core import save_json, machine_name
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    rows = []
    for spin in ("libgomp default", "10000"):
        for threads in (1, 2):
            for load in ("idle", "one busy process"):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
                try:
                    env = base | ({"GOMP_SPINCOUNT": spin} if spin != "libgomp default" else {})
                    r = subprocess.run([sys.executable, __file__, "--worker", str(threads), "--steps", str(a.steps)], env=env,
                                       capture_output=True, text=True, timeout=1800)
                finally:
                    if hog is not None: hog.kill(); hog.wait()
                if r.returncode: raise RuntimeError(f"the measuring process failed:\n{r.stderr[-3000:]}")
                t = json.loads(r.stdout.strip().splitlines()[-1])["step_seconds"][2:]
                rows.append({"spin": spin, "threads": threads, "load": load, "median_s": round(statistics.median(t), 3),
                             "max_s": round(max(t), 3), "steps_timed": len(t)})
                print(f"spin {spin:>15}, {threads} thread(s), {load:>16}: median {rows[-1]['median_s']:.3f} s per step (max {rows[-1]['max_s']:.3f})", flush=True)
    out = {"benchmark": "one distillation step (tiny-sd, batch 8, 64 px, DDS at t=800, residual latent mapper) on an idle and a busy CPU",
           "machine": machine_name("cpu").split(",")[0] + f", {os.cpu_count()} cores, torch {torch.__version__}",
           "command": "python bench/busy_cpu.py" + (f" --steps {a.steps}" if a.steps != 12 else ""), "results": rows,
           "date": time.strftime("%Y-%m-%d %H:%M")}
    path = Path(a.out or Path(__file__).parent / "results" / "busy_cpu_cpu.json")
    save_json(out, path, indent=1)
    print(path)
    return out


if __name__ == "__main__":
    main()
