"""A notebook-first, reproducible companion to Selective Diffusion Distillation (SDD, ICCV 2023)

Modules:

- `sdd_nb.stylegan2`: The paper's generator: StyleGAN2 (config-f) written for this project, whose state dict is the layout of the widely used PyTorch checkpoints (the `g_ema` of rosinality's `.pt` files), with W and W+ inputs, fixed noise, a loader for e4e W+ codes, and the `Generator` interface the `LatentMapper` plugs into."""

__version__ = "0.0.1"
