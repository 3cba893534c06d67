"""The paper's configuration at its size, with random weights (speed does not depend on them). JSON out, a table printed.

    python bench/paper_scale.py --device cuda --dtype bfloat16        # the recipe's setting -> bench/results/paper_scale_cuda.json
    python bench/paper_scale.py --device cuda --dtype bfloat16 --compile --channels-last
    python bench/paper_scale.py --tiny                                # every code path at toy size (what the tests run)

What it measures (median of --repeats after a warm-up; peak GPU memory where on CUDA):
  distill_step   one distillation step of the official recipe, batch 2: levels mapper -> StyleGAN2-1024 -> bilinear 512
                 -> SD VAE encoder (with gradient) -> CFG UNet (no gradient) -> SDS surrogate + ||w'-w||^2 + ArcFace IR-SE50
                 identity -> backward -> AdamW step
  hqs_search     the score-distillation gradients of one 512 px image at 17 timesteps, one t at a time vs batched
  sdd_stylegan   SDD inference per image: levels mapper + StyleGAN2-1024
  sdd_pixel      SDD inference per image: the pixel-space residual manipulator at 512 px
  sdedit         SDEdit per image: 50 DDIM steps at strength 0.6 (30 CFG UNet calls), VAE encode and decode
  ddib           DDIB per image: 50 DDIM inversion steps + 50 generation steps

The recipe's anchors (SD v1.x, 512 px, bf16, eager PyTorch, one H200): distillation step 102 ms (7.0 GiB), SDEdit 1343 ms,
pixel manipulator 10.3 ms, search 1288 ms one t at a time vs 319 ms batched, DDIB 2897 ms.
"""
import argparse, statistics, sys, time, types
from pathlib import Path

import torch

ANCHORS_MS = {"distill_step": 102, "hqs_search_sequential": 1288, "hqs_search_batched": 319, "sdd_pixel": 10.3, "sdedit": 1343, "ddib": 2897}
ITEMS = ("distill_step", "hqs_search", "sdd_stylegan", "sdd_pixel", "sdedit", "ddib")


def timer(fn, repeats: int, device: torch.device) -> dict:
    "Median and min wall time of fn() in ms after one warm-up call (core.time_calls), and the peak GPU memory of the timed calls."
    from sdd_nb.core import time_calls
    fn()
    if device.type == "cuda": torch.cuda.reset_peak_memory_stats(device)
    times = [1e3 * t for t in time_calls(fn, repeats, device, warmup=0)]
    out = {"median_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2), "repeats": repeats}
    if device.type == "cuda": out["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def build(a, device, dtype):
    "Supervisor, StyleGAN2, levels mapper, ArcFace and the pixel manipulator at the paper's size (or at toy size with --tiny)."
    from sdd_nb.guidance import Supervisor
    from sdd_nb.models import sd_v1_components
    from sdd_nb.stylegan2 import StyleGAN2, StyleGANGenerator
    from sdd_nb.manipulators import LatentMapper, ImageManipulator
    from sdd_nb.identity import IRSE50, ArcFaceIdentity
    torch.manual_seed(0)
    if a.tiny:
        sup = Supervisor.from_pretrained("tiny-sd", device=device, dtype=dtype)
        sg = StyleGAN2(64, style_dim=32, n_mlp=2, channel_max=32)
        arc = IRSE50(50, widths=(16, 16, 32, 32))
        pix = ImageManipulator(channels=8)
    else:
        c = sd_v1_components(dtype=dtype)
        sup = Supervisor(c["vae"], c["unet"], c["text_encoder"], c["tokenizer"], c["scheduler"], device=device, dtype=dtype)
        sg = StyleGAN2(a.stylegan_size)
        arc = IRSE50()
        pix = ImageManipulator(channels=a.pixel_channels)
    sg.gradient_checkpointing = a.checkpointing
    gen = StyleGANGenerator(sg.to(device))
    mapper = LatentMapper(gen, n_levels=sg.n_latent, dim=sg.style_dim).to(device)
    ident = ArcFaceIdentity(arc.to(device))
    pix = pix.to(device).eval()
    if a.channels_last:
        for m in (sup.vae, sup.unet, arc, pix): m.to(memory_format=torch.channels_last)   # (StyleGAN2 keeps 5-D modulated weights)
    if a.compile: sup.unet = torch.compile(sup.unet)
    return sup, gen, mapper, ident, pix


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32", help="the frozen supervisor's weights and the autocast")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default=",".join(ITEMS), help=f"comma-separated subset of {','.join(ITEMS)}")
    ap.add_argument("--stylegan-size", type=int, default=1024)
    ap.add_argument("--pixel-channels", type=int, default=64, help="width of the pixel-space manipulator")
    ap.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--checkpointing", action="store_true", help="gradient checkpointing in the StyleGAN2 synthesis")
    ap.add_argument("--tiny", action="store_true", help="toy sizes (tiny-sd, a 64 px StyleGAN2): tests the script, not the speed")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    items = [s.strip() for s in a.only.split(",") if s.strip()]
    if set(items) - set(ITEMS): ap.error(f"unknown items {sorted(set(items) - set(ITEMS))}; choose from {ITEMS}")
    from sdd_nb.core import get_device, save_json
    from sdd_nb.baselines import SDEdit, DDIB
    from sdd_nb.core import machine_name
    device, dtype = get_device(a.device), getattr(torch, a.dtype)
    sup, gen, mapper, ident, pix = build(a, device, dtype)
    amp = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype != torch.float32 else (lambda: torch.autocast(device.type, enabled=False))
    g = torch.Generator().manual_seed(0)
    size = sup.image_size
    res, ts = {}, torch.linspace(100, 900, 17).round().long().tolist()
    tag = "tiny" if a.tiny else device.type
    path = Path(a.out or Path(__file__).parent / "results" / f"paper_scale_{tag}.json")
    def save():                                                   # after every item: a killed run keeps what it measured
        out = {"benchmark": "SDD at the paper's size, random weights" if not a.tiny else "SDD code paths at toy size (not a speed figure)",
               "device": str(device), "machine": machine_name(device), "dtype": a.dtype, "compile": a.compile, "channels_last": a.channels_last,
               "gradient_checkpointing": a.checkpointing, "supervisor_image": size, "results": res,
               "recipe_anchors_ms": ANCHORS_MS, "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
        save_json(out, path, indent=1)                            # atomically: a kill mid-write keeps the previous file
        return out
    n_params = lambda m: round(sum(p.numel() for p in m.parameters()) / 1e6, 2)

    if "distill_step" in items:
        opt = torch.optim.AdamW(mapper.parameters(), lr=0.005, weight_decay=0.002)
        w = torch.randn(2, gen.n_latent, gen.dim, generator=g).to(device)
        noise = sup.noise_like(2, g)
        def step():
            with amp():
                with torch.no_grad(): x = gen.decode(w)
                y = mapper.forward_latents(w)
                z = sup.encode_images(y)
                grad = sup.latent_grad(z.detach(), "white hair", torch.tensor([500, 500]), noise)
                loss = (z.float() * grad.float()).sum() / z[0].numel() / 2 + 10 * mapper.regularizers(x, y)["latent_code_l2"] + ident(y, x)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        res["distill_step"] = timer(step, a.repeats, device) | {"batch": 2, "image": gen.g.size}; save()
    if "hqs_search" in items:
        x = (torch.rand(1, 3, size, size, generator=g) * 2 - 1).to(device)
        nz = sup.noise_like(1, g)
        for name, chunk in (("sequential", 1), ("batched", len(ts))):
            def search(): 
                with amp(): sup.image_grads(x, "white hair", ts, noise=nz, chunk=chunk)
            res[f"hqs_search_{name}"] = timer(search, a.repeats, device) | {"timesteps": len(ts), "chunk": chunk}; save()
    with torch.no_grad():
        if "sdd_stylegan" in items:
            w1 = torch.randn(1, gen.n_latent, gen.dim, generator=g).to(device)
            def sdd_sg():
                with amp(): mapper.forward_latents(w1)
            res["sdd_stylegan"] = timer(sdd_sg, a.repeats, device) | {"image": gen.g.size, "params_M": n_params(mapper.mapper) + n_params(gen.g)}
        if "sdd_pixel" in items:
            xi = (torch.rand(1, 3, size, size, generator=g) * 2 - 1).to(device)
            def sdd_px():
                with amp(): pix(xi)
            res["sdd_pixel"] = timer(sdd_px, a.repeats, device) | {"image": size, "params_M": n_params(pix)}
    pipe = types.SimpleNamespace(vae=sup.vae, unet=sup.unet, text_encoder=sup.text_encoder, tokenizer=sup.tokenizer, scheduler=sup.scheduler)
    xi = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    for name, cls, strength in (("sdedit", SDEdit, 0.6), ("ddib", DDIB, 1.0)):
        if name not in items: continue
        ed = cls(pipe, steps=50, guidance_scale=7.5, batch_size=1, device=device, dtype=dtype)
        def run_ed():
            with amp(): ed.edit(xi, "white hair", strength=strength, progress=False, **({"source_prompt": "a photo of a face"} if name == "ddib" else {}))
        res[name] = timer(run_ed, max(1, a.repeats // 2), device) | {"steps": 50, "strength": strength}; save()
    if "sdedit" in res:
        for k in ("sdd_pixel", "sdd_stylegan"):
            if k in res: res[k]["speedup_vs_sdedit"] = round(res["sdedit"]["median_ms"] / res[k]["median_ms"], 1)
    out = save()
    print(f"{out['benchmark']} on {out['machine']} ({a.dtype})")
    print(f"{'work':24s} {'median ms':>10s} {'anchor ms':>10s} {'peak GiB':>9s}")
    for k, v in res.items():
        print(f"{k:24s} {v['median_ms']:10.1f} {ANCHORS_MS.get(k, float('nan')):10.1f} {v.get('peak_gib', float('nan')):9.2f}")
    print(f"-> {path}")
    return out


if __name__ == "__main__":
    main()
