"""Nothing a user gives `train` or `edit` loses their work (issue 14): every input is checked before a run folder
appears, resume refuses what is not a run of the same settings and never overwrites a file it did not write, a damaged
checkpoint is named and leaves the folder as it was, images come back the size they went in, and the precisions and
memory formats that `DistillConfig` advertises train on the CPU."""
import hashlib
import json
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sdd_nb.distill import DistillConfig, train, edit, evaluate_run, weights_digest
from sdd_nb.guidance import Supervisor
from sdd_nb.manipulators import build_manipulator, VAEGenerator
from sdd_nb.models import load_judge
from sdd_nb.toyfaces import ToyFaces

SMALL = dict(prompt="white hair", steps=4, batch_size=2, channels=8, hqs_images=2, hqs_grid=(300, 600), train_images=8,
             eval_images=4, ckpt_every=2, sample_every=4)


@pytest.fixture(scope="module")
def sup():
    torch.set_num_threads(1)
    return Supervisor.from_pretrained("tiny-sd")


@pytest.fixture(scope="module")
def judge():
    return load_judge("judge")


@pytest.fixture(scope="module")
def finished(sup, judge, tmp_path_factory):
    "A finished 4-step run (image manipulator) with its metrics; tests copy it before changing it."
    run = train(DistillConfig(**SMALL, manipulator="image"), tmp_path_factory.mktemp("fin") / "run", supervisor=sup, judge=judge, progress=False)
    evaluate_run(run)                                    # read by the scorer, as every run
    return run


def snapshot(folder: Path) -> dict:
    "Every file under `folder` with the hash of its bytes."
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_run(src: Path, dst: Path) -> Path:
    import shutil
    shutil.copytree(src, dst)
    return dst


def newest_ckpt_file(run: Path, name: str) -> Path:
    return max((run / "ckpt").rglob(name), key=lambda p: (len(p.parts), p.as_posix()))


# -- 1. resume never loses work ------------------------------------------------------------------------------------------

def test_resume_refuses_a_folder_that_is_not_a_run(sup, tmp_path):
    run = tmp_path / "mine"; run.mkdir()
    (run / "log.csv").write_text("step,loss\n0,1.0\n"); (run / "metrics.json").write_text('{"mine": 1}')
    before = snapshot(run)
    with pytest.raises(FileExistsError, match="not a run folder"):
        train(DistillConfig(**SMALL), run, resume=True, supervisor=sup, progress=False)
    assert snapshot(run) == before


def test_resume_refuses_a_run_trained_with_other_weights(sup, judge, finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    cfg = DistillConfig(**SMALL, manipulator="image")
    rec = json.loads((run / "weights.json").read_text())
    assert set(rec) == {"model", "judge"} and rec == weights_digest(cfg)      # what it learned from: tiny-sd and the judge
    (run / "weights.json").write_text(json.dumps(rec | {"model": "0" * 16}))   # as if tiny-sd had been retrained since
    before = snapshot(run)
    with pytest.raises(ValueError, match="trained with other weights"):
        train(cfg, run, resume=True, supervisor=sup, progress=False)
    assert snapshot(run) == before
    # a run written before runs recorded their weights cannot be checked: it resumes, and is not stamped with today's
    (run / "weights.json").unlink()
    train(cfg.replace(steps=6), run, resume=True, supervisor=sup, judge=judge, progress=False)
    assert (run / "finished-step_00004").exists() and not (run / "weights.json").exists()


def test_weights_digest_follows_the_bytes_of_the_weights(tmp_path):
    import shutil
    from sdd_nb.models import embedded_path
    copy = shutil.copytree(embedded_path("tiny-sd"), tmp_path / "tiny-sd")
    cfg = DistillConfig(**SMALL)
    same = weights_digest(cfg.replace(model=str(copy)))
    assert same["model"] == weights_digest(cfg)["model"]                       # the same files, wherever they are
    (copy / "scheduler" / "scheduler_config.json").write_text("{}")            # not a weight file: no change
    (copy / "v1-5-pruned.ckpt").write_bytes(b"not a pipeline component")       # a download's extra checkpoint: no change
    assert weights_digest(cfg.replace(model=str(copy)))["model"] == same["model"]
    f = next((copy / "unet").glob("*.safetensors")); b = bytearray(f.read_bytes()); b[-1] ^= 1; f.write_bytes(bytes(b))
    assert weights_digest(cfg.replace(model=str(copy)))["model"] != same["model"]


def test_resume_of_a_finished_run_whose_checkpoints_are_gone(sup, finished, tmp_path):
    import shutil
    run = copy_run(finished, tmp_path / "run"); shutil.rmtree(run / "ckpt")
    before = snapshot(run)
    # the same settings: the run is finished, nothing is retrained and its metrics stay
    train(DistillConfig(**SMALL, manipulator="image"), run, resume=True, supervisor=sup, progress=False)
    assert snapshot(run) == before
    # more steps cannot be trained without a checkpoint: an error, and nothing changed
    with pytest.raises(FileNotFoundError, match="checkpoints .* are gone"):
        train(DistillConfig(**{**SMALL, "steps": 6}, manipulator="image"), run, resume=True, supervisor=sup, progress=False)
    assert snapshot(run) == before


def test_resume_to_more_steps_keeps_the_finished_results(sup, judge, finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    old = {n: (run / n).read_bytes() for n in ("manipulator.safetensors", "metrics.json", "before_after.png")}
    train(DistillConfig(**{**SMALL, "steps": 6}, manipulator="image"), run, resume=True, supervisor=sup, judge=judge, progress=False)
    kept = run / "finished-step_00004"
    assert {n: (kept / n).read_bytes() for n in old} == old            # the 4-step results, moved aside intact
    assert not (run / "metrics.json").exists()                         # no stale metrics beside the 6-step model
    assert json.loads((run / "train_info.json").read_text())["steps"] == 6


def test_resume_of_a_run_stopped_before_its_first_checkpoint_restarts_it(sup, judge, tmp_path):
    cfg = DistillConfig(**{**SMALL, "ckpt_every": 3})
    def stop(step, logs):
        if step == 1: raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "r", supervisor=sup, judge=judge, progress=False, callback=stop)
    assert not (tmp_path / "r" / "ckpt").exists() and (tmp_path / "r" / "selection.json").exists()
    train(cfg, tmp_path / "r", resume=True, supervisor=sup, judge=judge, progress=False)
    assert (tmp_path / "r" / "manipulator.safetensors").exists()


def test_a_run_killed_while_writing_its_first_checkpoint_restarts(sup, judge, tmp_path, monkeypatch):
    import sdd_nb.distill as distill
    real = distill.save_file
    def die(*a, **k): raise KeyboardInterrupt                       # killed after log.csv, inside the first checkpoint
    monkeypatch.setattr(distill, "save_file", die)
    with pytest.raises(KeyboardInterrupt):
        train(DistillConfig(**SMALL), tmp_path / "r", supervisor=sup, judge=judge, progress=False)
    assert (tmp_path / "r" / "log.csv").exists() and not list((tmp_path / "r" / "ckpt").glob("step_*"))
    monkeypatch.setattr(distill, "save_file", real)
    train(DistillConfig(**SMALL), tmp_path / "r", resume=True, supervisor=sup, judge=judge, progress=False)
    assert (tmp_path / "r" / "manipulator.safetensors").exists() and not list((tmp_path / "r" / "ckpt").glob(".step_*"))


def test_extending_twice_keeps_both_finished_results(sup, judge, finished, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    for steps in (6, 8):
        train(DistillConfig(**{**SMALL, "steps": steps}, manipulator="image"), run, resume=True, supervisor=sup, judge=judge, progress=False)
    assert json.loads((run / "finished-step_00004" / "train_info.json").read_text())["steps"] == 4
    assert json.loads((run / "finished-step_00006" / "train_info.json").read_text())["steps"] == 6
    assert not list(run.rglob(".moving"))


# -- 2. validate first: no stub folder -----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    (dict(steps=2.5), "steps must be int"),
    (dict(selection="best"), "unknown selection"),
    (dict(selection="fixed"), "needs a timestep"),
    (dict(hqs_grid=(300,)), "at least two timesteps"),
    (dict(hqs_grid=(300, 300)), "distinct"),
    (dict(data="/no/such/folder", source_prompt="a photo of a face"), "not found"),
    (dict(data=str(Path(__file__).parent), source_prompt="a photo of a face"), "holds no images"),       # a folder, but of no images
    (dict(data="/no/such/folder"), "give source_prompt"),              # DDS (the default) on images without captions
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(w_l1=-1.0), "w_l1 must be >= 0"),
    (dict(precision="fp8"), "precision must be one of"),
    (dict(hqs_grid=(300, 1000)), "outside the scheduler's range"),   # known only once the model is loaded: still no folder
    (dict(selection="threshold:5"), "HQS is normalised over hqs_grid and is at most 1"),   # issue 26: no xi >= 1 keeps a timestep
    (dict(selection="threshold:0.99", hqs_images=3, hqs_grid=(300, 600, 900)), "no timestep has HQS above xi=0.99"),  # known after HQS
])
def test_bad_settings_create_nothing_and_the_corrected_run_starts(sup, tmp_path, bad, match):
    out = tmp_path / "run"
    cfg = DistillConfig(**{**SMALL, **bad})          # a dataclass takes anything: train checks every field's type and value
    with pytest.raises((TypeError, ValueError, FileNotFoundError), match=match):
        train(cfg, out, supervisor=sup, progress=False)
    assert not out.exists()


def test_the_corrected_run_starts_in_the_same_folder(sup, judge, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(TypeError):
        train(DistillConfig(**{**SMALL, "steps": 2.5}), out, supervisor=sup, progress=False)
    train(DistillConfig(**{**SMALL, "steps": 2}), out, supervisor=sup, judge=judge, progress=False)
    assert (out / "manipulator.safetensors").exists()


def test_out_dir_that_is_a_file(sup, tmp_path):
    f = tmp_path / "notes.txt"; f.write_text("mine")
    with pytest.raises(NotADirectoryError, match="is a file"):
        train(DistillConfig(**SMALL), f, supervisor=sup, progress=False)
    assert f.read_text() == "mine"


# -- 3. a damaged checkpoint ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["optimizer.pt", "manipulator.safetensors"])
def test_a_truncated_checkpoint_is_named_and_nothing_changes(sup, finished, tmp_path, name):
    run = copy_run(finished, tmp_path / "run")
    f = newest_ckpt_file(run, name); f.write_bytes(f.read_bytes()[:40])
    before = snapshot(run)
    with pytest.raises(Exception, match=name) as e:                  # names the file ...
        train(DistillConfig(**{**SMALL, "steps": 8}, manipulator="image"), run, resume=True, supervisor=sup, progress=False)
    assert "step 2" in str(e.value) and "overwrite=True" in str(e.value)   # ... the previous checkpoint, and what to do
    assert snapshot(run) == before                                    # config.yaml included: byte for byte as it was


# -- 4. images come back the size they went in ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mapper(sup):
    torch.manual_seed(0)
    m = build_manipulator({"kind": "latent"}, VAEGenerator(sup.vae)).eval()
    m.image_size = 64
    return m


class Plus(torch.nn.Module):
    "A manipulator whose edit is known: +0.25 everywhere."
    image_size = 64
    def __init__(self): super().__init__(); self.w = torch.nn.Parameter(torch.zeros(()))
    def forward(self, x): return x + 0.25 + self.w


def test_edit_of_another_size_adds_the_change_to_the_source():
    x = torch.rand(2, 3, 37, 91, generator=torch.Generator().manual_seed(0)) - 0.5
    with pytest.warns(UserWarning, match="trained at 64x64"):
        y = edit(Plus(), x, progress=False)
    torch.testing.assert_close(y, x + 0.25, atol=1e-5, rtol=0)         # the source's own pixels, plus the change
    m = Plus(); m.image_size = None                                    # a manipulator of unknown size edits at the images' own
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.testing.assert_close(edit(m, x, progress=False), x + 0.25)


def test_edit_returns_the_input_size(mapper):
    x = ToyFaces("test", 2, 64).images()
    with pytest.warns(UserWarning, match="37x91 .* trained at 64x64"):
        y = edit(mapper, torch.nn.functional.interpolate(x, size=(37, 91), mode="bilinear")[:1], progress=False)
    assert y.shape == (1, 3, 37, 91)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                               # the training size: no warning, unchanged path
        assert edit(mapper, x, progress=False).shape == (2, 3, 64, 64)


def test_edit_keeps_non_square_pil_images_and_names_mixed_sizes(mapper):
    ims = [Image.new("RGB", (96, 64), (200, 30, 30)), Image.new("RGB", (96, 64), (30, 30, 200))]
    with pytest.warns(UserWarning, match="64x96"):
        assert edit(mapper, ims, progress=False).shape == (2, 3, 64, 96)
    with pytest.raises(ValueError, match="different sizes"):
        edit(mapper, ims + [Image.new("RGB", (64, 64))], progress=False)
    with pytest.raises(ValueError, match="2x2"):
        edit(mapper, torch.zeros(1, 3, 2, 2), progress=False)


def test_a_long_prompt_is_named_and_gets_a_usable_run_folder(sup):
    from sdd_nb.distill import default_run_dir
    long = " ".join(["a very long description of a face with white hair"] * 50)
    with pytest.warns(UserWarning, match="tokens long .* the rest is cut"):
        sup.encode_prompt(long)
    d = default_run_dir(long, "threshold:0.5", 3)
    assert len(d.name) < 100 and d.name.endswith("-threshold0.5-seed3") and d.name != default_run_dir(long + " x", "largest").name
    nb = (Path(__file__).resolve().parents[1] / "nbs" / "train.ipynb").read_text()
    assert "default_run_dir(" in nb                                   # the notebook builds its folder name with it


def test_edit_on_a_missing_device_is_a_clear_error(mapper):
    if torch.cuda.is_available(): pytest.skip("CUDA is here")
    with pytest.raises(RuntimeError, match="device='cpu'"):
        edit(mapper, torch.zeros(1, 3, 64, 64), device="cuda", progress=False)


# -- 8. every precision and memory format that DistillConfig offers trains on the CPU ------------------------------------

@pytest.mark.parametrize("over", [dict(precision="bf16"), dict(precision="fp16"), dict(channels_last=True)])
def test_precisions_and_channels_last_train(judge, tmp_path, over):
    cfg = DistillConfig(**{**SMALL, "selection": "fixed:500", "steps": 2, "ckpt_every": 2}, manipulator="image", **over)
    run = train(cfg, tmp_path / "r", judge=judge, progress=False)     # the supervisor is loaded in the run's precision
    w = load_file(str(run / "manipulator.safetensors"))
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in w.values())
    state = torch.load(newest_ckpt_file(run, "optimizer.pt"), weights_only=True)
    if over.get("precision") == "fp16":                               # fp16 trains with a gradient scaler, checkpointed
        assert state["scaler"] and state["scaler"]["scale"] > 0
