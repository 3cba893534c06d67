"""Issue 14, findings 4-6 and 9: images of any bit depth load as they look, [0, 1] images are flagged, raw torch
errors become clear ones that name the file, the metrics module imports what it uses, and user-visible files
are written atomically. Each test failed on the code before the fix. (Names new in the fix are imported inside
the tests, so that each test fails on its own on older code.)"""
import json, os, pickle, re, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sdd_nb.core import check_images, load_image, to_tensor, to_uint8
from sdd_nb.imagefolder import ImageFolder

ROOT = Path(__file__).resolve().parents[1]


# ---- finding 4: 16- and 32-bit images, float images, [0, 1] images ------------------------------------------

def test_16bit_gray_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)[None].repeat(8, 0)   # a known 16-bit gradient, 8x64
    p = tmp_path / "gray16.png"; Image.fromarray(ramp).save(p)
    with Image.open(p) as im: assert im.mode.startswith("I")                       # PIL reads it as a 16-bit image
    want = np.round(ramp / 257.0)                                                  # 65535 -> 255
    x = load_image(p)
    assert x.shape == (1, 3, 8, 64)
    got = to_uint8(x)[0]
    assert np.abs(got.astype(int) - want[..., None]).max() <= 1
    assert (got == 255).mean() < 0.05                                              # it loaded 98% white before
    with Image.open(p) as im: np.testing.assert_array_equal(to_uint8(to_tensor(im)), to_uint8(x))
    # ImageFolder reads it the same way (resized to 16 px: the mean of the gradient is kept, not white)
    (tmp_path / "folder").mkdir(); Image.fromarray(ramp[:, :8]).save(tmp_path / "folder" / "a.png")   # 8x8 crop: 0..~8000
    y = ImageFolder(tmp_path / "folder", size=16)[0]["image"]
    assert abs(((y + 1) * 127.5).mean().item() - want[:, :8].mean()) < 2


def test_32bit_integer_and_float_images():
    a16 = np.array([[0, 32896, 65535]], np.int32)                                   # mode I holding 16-bit data
    assert Image.fromarray(a16).mode == "I"
    assert to_uint8(to_tensor(Image.fromarray(a16)))[0, 0, :, 0].tolist() == [0, 128, 255]
    a32 = np.array([[0, 2**30, 2**31 - 1]], np.int32)                               # full 32-bit range
    assert to_uint8(to_tensor(Image.fromarray(a32)))[0, 0, :, 0].tolist() == [0, 128, 255]
    f = np.array([[0.0, 0.5, 1.0]], np.float32)                                      # mode F in [0, 1]
    assert to_uint8(to_tensor(Image.fromarray(f)))[0, 0, :, 0].tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match=r"float image .*\[0, 300\].*intensity scale is unknown"):
        to_tensor(Image.fromarray(np.array([[0.0, 300.0]], np.float32)))


def test_images_in_0_1_warn_and_images_in_minus1_1_do_not():
    with pytest.warns(UserWarning, match=r"look like images in \[0, 1\].*x \* 2 - 1"):
        check_images(torch.rand(2, 3, 8, 8))
    from sdd_nb.toyfaces import ToyFaces
    from sdd_nb.models import load_clip, clip_encode_images
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                               # any warning fails here
        check_images(torch.rand(2, 3, 8, 8) * 2 - 1); check_images(torch.zeros(1, 3, 8, 8))   # constant: no evidence
        x = ToyFaces("test", 4).images()
        check_images(x); check_images(x[:1])
        clip_encode_images(load_clip("tiny-clip")[0], x)                              # the package's own internal call


# ---- finding 5: raw errors -> clear errors -------------------------------------------------------------------

def test_absent_cuda_is_a_clear_error_before_anything_loads(monkeypatch, tmp_path):
    from sdd_nb.models import load_sd, load_clip, load_judge
    from sdd_nb.stylegan2 import load_stylegan2
    from sdd_nb.identity import load_arcface
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for load in (lambda: load_judge(device="cuda"), lambda: load_clip("tiny-clip", device="cuda"),
                 lambda: load_sd(tmp_path / "no-such-sd", device="cuda"),                 # the device is checked first
                 lambda: load_stylegan2(tmp_path / "no.pt", device="cuda"), lambda: load_arcface(tmp_path / "no.pth", device="cuda")):
        with pytest.raises(RuntimeError, match="CUDA is not available here; pass device='cpu'"): load()


class _Payload:
    "Unpickling this would create a folder: the test checks that nothing ran."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (os.mkdir, (self.marker,))


def _check_refused(err: pytest.ExceptionInfo, path: Path):
    msg = str(err.value)
    assert str(path) in msg and "pickled Python objects beyond tensors" in msg and "state_dict" in msg and "safetensors" in msg
    assert "weights_only=False" not in msg and "weights_only` set to `False" not in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__    # torch's advice is not chained in


def test_pickle_payloads_are_refused_by_name_through_every_loader(tmp_path):
    from sdd_nb.stylegan2 import load_stylegan2, load_latent_codes
    from sdd_nb.identity import load_arcface
    marker = tmp_path / "payload-ran"
    f = tmp_path / "evil.pt"; torch.save({"g_ema": _Payload(marker)}, f)
    for load in (load_stylegan2, lambda p: load_latent_codes(p, 10, 32), load_arcface):
        with pytest.raises(pickle.UnpicklingError) as err: load(f)
        _check_refused(err, f)
    from sdd_nb.core import load_torch                                             # the helper they all go through
    with pytest.raises(pickle.UnpicklingError) as err: load_torch(f)
    _check_refused(err, f)
    assert not marker.exists()


def test_truncated_and_missing_torch_files_are_named(tmp_path):
    from sdd_nb.stylegan2 import load_stylegan2, load_latent_codes
    from sdd_nb.identity import load_arcface
    good = tmp_path / "good.pt"; torch.save({"w": torch.zeros(256)}, good)
    cut = tmp_path / "cut.pt"; cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.pt"; empty.write_bytes(b"")
    for f in (cut, empty):
        for load in (load_stylegan2, lambda p: load_latent_codes(p, 10, 32), load_arcface):
            with pytest.raises(ValueError, match=re.escape(str(f)) + ".*truncated, corrupt"): load(f)
    from sdd_nb.core import load_torch
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.pt"))): load_torch(tmp_path / "nope.pt")
    assert load_torch(good)["w"].shape == (256,)


def test_image_folder_hint_names_the_real_value(tmp_path):
    with pytest.raises(FileNotFoundError, match="data='toyfaces'"): ImageFolder(tmp_path / "celeba")


def test_too_small_images_get_an_error_naming_both_sizes(tmp_path):
    p = tmp_path / "tiny.png"; Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(p)
    for x in (load_image(p), to_tensor(Image.open(p))):
        with pytest.raises(ValueError, match=r"2x2, smaller than the smallest size accepted here, 8x8"):
            check_images(x, min_size=8)
    check_images(torch.zeros(1, 3, 8, 8), min_size=8)


# ---- finding 6: the metrics module imports what it uses; measure_edits returns what it says ------------------

def test_measure_edits_loads_its_own_models_and_returns_row_and_images():
    from sdd_nb.metrics import measure_edits
    from sdd_nb.toyfaces import ToyFaces
    class Darken:
        def edit(self, images, prompt, progress=False): return images * 0.9
    x = ToyFaces("test", 3, size=32).images()
    out = measure_edits(Darken(), x, "white hair")                  # clip=None: load_clip (undefined in metrics before)
    assert isinstance(out, tuple) and len(out) == 2
    row, edited = out
    assert isinstance(row, dict) and {"fid", "directional_clip", "edit_seconds"} <= set(row)
    assert torch.equal(edited, x * 0.9)
    assert "(row, edited)" in measure_edits.__doc__


# ---- finding 9: atomic writes --------------------------------------------------------------------------------

def _killed_mid_write(monkeypatch, cls, name, when):
    "Make `cls.name` write half of what it was asked to, then die, for the files `when(path)` picks."
    real = getattr(cls, name)
    def half(self, *a, **k):
        target = Path(self if isinstance(self, Path) else a[0])
        if not when(target): return real(self, *a, **k)
        target.write_bytes(b"half a fi")
        raise KeyboardInterrupt("killed mid-write")
    monkeypatch.setattr(cls, name, half)


def test_claims_md_survives_a_kill_mid_write(monkeypatch, tmp_path):
    from sdd_nb.reproduce import claims
    (tmp_path / "claims.md").write_text("the previous claims\n")
    _killed_mid_write(monkeypatch, Path, "write_text", lambda p: "claims.md" in p.name)
    with pytest.raises(KeyboardInterrupt): claims(tmp_path)
    assert (tmp_path / "claims.md").read_text() == "the previous claims\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.json", "claims.md"]   # no temporary file left


def test_bench_json_survives_a_kill_mid_write(monkeypatch, tmp_path):
    import runpy
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"): monkeypatch.setenv(v, "1")   # the script sets them
    main = runpy.run_path(str(ROOT / "bench" / "render_speed.py"))["main"]
    out = tmp_path / "r.json"; out.write_text('{"previous": true}\n')
    _killed_mid_write(monkeypatch, Path, "write_text", lambda p: "r.json" in p.name)
    with pytest.raises(KeyboardInterrupt): main(["--n", "4", "--size", "16", "--batch", "4", "--repeats", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_csv_and_figure_helpers_survive_a_kill_mid_write(monkeypatch, tmp_path):
    import pandas as pd
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.figure
    from sdd_nb.core import save_csv, save_figure
    csv, png = tmp_path / "t.csv", tmp_path / "f.png"
    save_csv(pd.DataFrame({"a": [1, 2]}), csv, index=False)
    fig = matplotlib.figure.Figure(figsize=(1, 1)); save_figure(fig, png, dpi=20)
    before = csv.read_bytes(), png.read_bytes()
    assert before[1][:4] == b"\x89PNG"
    _killed_mid_write(monkeypatch, pd.DataFrame, "to_csv", lambda p: True)
    _killed_mid_write(monkeypatch, matplotlib.figure.Figure, "savefig", lambda p: True)
    with pytest.raises(KeyboardInterrupt): save_csv(pd.DataFrame({"a": [3]}), csv)
    with pytest.raises(KeyboardInterrupt): save_figure(fig, png)
    assert (csv.read_bytes(), png.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "t.csv"]


# A plain write to a user-visible path (not to `p`, the temporary path `atomic_write` hands its writer).
_PLAIN_WRITE = re.compile(r"\.(write_text|write_bytes|to_csv|savefig)\(|\bjson\.dump\(|\bopen\([^)]*['\"][wax]b?\+?['\"]")
_TO_TEMP = re.compile(r"Path\(p\)\.write_(text|bytes)\(|\.(to_csv|savefig)\(p\b|\bopen\(p\b")


def _plain_writes(name: str, lines) -> list[str]:
    return [f"{name}:{i}: {line.strip()}" for i, line in enumerate(lines, 1)
            if _PLAIN_WRITE.search(line.split("#")[0]) and not _TO_TEMP.search(line)
            and not line.strip().startswith(('"', "'"))]                              # a docstring


def test_no_plain_writes_in_the_package_bench_tools_and_experiment_notebooks():
    found = []
    files = [p for p in sorted((ROOT / "sdd_nb").glob("*.py")) if p.name != "_modidx.py"]
    files += sorted((ROOT / "bench").glob("*.py")) + sorted((ROOT / "tools").glob("*.py"))
    for p in files: found += _plain_writes(str(p.relative_to(ROOT)), p.read_text().splitlines())
    for p in sorted((ROOT / "nbs").glob("[a-z]*.ipynb")):                            # the experiment notebooks
        cells = [c for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
        found += _plain_writes(str(p.relative_to(ROOT)), "".join("".join(c["source"]) + "\n" for c in cells).splitlines())
    assert not found, "write these through sdd_nb.core.atomic_write (or save_json / save_text / save_csv / save_figure):\n" + "\n".join(found)
    assert _plain_writes("x", ['df.to_csv(out / "t.csv")', 'fig.savefig(out / "f.png")', 'Path(f).write_text(s)', 'with open(f, "w") as fh:'])
    assert not _plain_writes("x", ['atomic_write(f, lambda p: Path(p).write_text(s))', 'atomic_write(f, lambda p: df.to_csv(p, index=False))',
                                   'with open(p, "w", newline="") as fh:', 'for line in open("/proc/cpuinfo"):'])
