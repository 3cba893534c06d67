"""The main job, `papermill nbs/train.ipynb out.ipynb -p prompt ...`, at a few steps; and the training loop's bad inputs."""
import json
import warnings

import pytest
import papermill as pm
import torch

SMALL = {"steps": 4, "batch_size": 2, "hqs_images": 2, "hqs_step": 400, "train_images": 16, "eval_images": 8, "sdedit_images": 2}


def run_nb(root, tmp_path, **params):
    return pm.execute_notebook(str(root / "nbs" / "train.ipynb"), str(tmp_path / "run.ipynb"), cwd=str(root),
                               parameters={**SMALL, **params}, progress_bar=False)


def test_train_notebook_writes_a_complete_run(root, tmp_path):
    out = tmp_path / "run"
    run_nb(root, tmp_path, prompt="white hair", out_dir=str(out))
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "hqs.csv", "selection.json", "log.csv", "ckpt", "samples", "manipulator.safetensors",
            "before_after.png", "metrics.json"} <= names
    m = json.loads((out / "metrics.json").read_text())
    for k in ("edit_success", "preservation", "identity_distance", "psnr_outside_mask", "psnr_to_truth",
              "selected_timesteps", "train_seconds", "images_per_second", "device", "parameters", "sdedit_images_per_second"):
        assert k in m, k
    assert 0 <= m["edit_success"] <= 1 and 0 <= m["preservation"] <= 1 and m["n_images"] == 8
    assert m["parameters"]["prompt"] == "white hair" and m["parameters"]["steps"] == 4
    assert m["selected_timesteps"] == json.loads((out / "selection.json").read_text())["timesteps"]
    # an existing run folder is refused, then resumed (nothing to do: it is finished) and overwritten on request
    with pytest.raises(pm.PapermillExecutionError, match="resume=True"):
        run_nb(root, tmp_path, prompt="white hair", out_dir=str(out))
    run_nb(root, tmp_path, prompt="white hair", out_dir=str(out), resume=True)
    run_nb(root, tmp_path, prompt="white hair", out_dir=str(out), overwrite=True)
    assert len(list(tmp_path.glob("run.replaced-*"))) == 1


def test_train_notebook_takes_a_preset(root, tmp_path, monkeypatch, capfd):
    over = {"steps": 3, "batch_size": 2, "hqs_images": 2, "hqs_grid": [300, 700], "train_images": 8, "eval_images": 4}
    monkeypatch.setenv("SDD_PROGRESS", "terminal")          # as `make demo` runs it: the kernel inherits the variable
    pm.execute_notebook(str(root / "nbs" / "train.ipynb"), str(tmp_path / "p.ipynb"), cwd=str(root), progress_bar=False,
                        parameters={"preset": "toy", "prompt": "angry", "preset_overrides": over, "sdedit_images": 0, "out_dir": str(tmp_path / "p")})
    m = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert m["parameters"]["steps"] == 3 and m["parameters"]["prompt"] == "angry" and m["edit_success"] is not None
    # the training bar reached the terminal that started papermill (the kernel's stderr), to its last step
    err = capfd.readouterr().err
    assert "SDD 'angry'" in err and "3/3" in err, err[-2000:]
    # a paper preset names the files it still needs before any training starts
    with pytest.raises(pm.PapermillExecutionError, match="stylegan2-ffhq-config-f.pt"):
        pm.execute_notebook(str(root / "nbs" / "train.ipynb"), str(tmp_path / "q.ipynb"), cwd=str(root), progress_bar=False,
                            parameters={"preset": "celeba-hq", "prompt": "angry", "out_dir": str(tmp_path / "q")})
    assert not (tmp_path / "q").exists()


def test_train_notebook_on_toy_cats(root, tmp_path):
    # a toy-cat prompt trains on the toy cats with their embedded models (cats-cars/), measured by the cats' scorer
    run_nb(root, tmp_path, prompt="black fur", domain="cats", out_dir=str(tmp_path / "cat"))
    m = json.loads((tmp_path / "cat" / "metrics.json").read_text())
    assert (m["parameters"]["data"], m["parameters"]["model"]) == ("toycats", "cats-cars/tiny-sd")
    assert 0 <= m["edit_success"] <= 1 and m["scored_by"] == "scorer" and m["n_images"] == 8
    assert set(m["preservation_per_attribute"]) == {"pattern", "eyes", "ears", "expression"}   # read by the cats' scorer
    with pytest.raises(pm.PapermillExecutionError, match="unknown toy-cars prompt"):
        run_nb(root, tmp_path, prompt="black fur", domain="cars", out_dir=str(tmp_path / "car"))
    assert not (tmp_path / "car").exists()


def test_train_notebook_needs_a_prompt(root, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="prompt is required"):
        run_nb(root, tmp_path, out_dir=str(tmp_path / "x"))


def test_unknown_prompt_trains_without_ground_truth(tmp_path):
    from sdd_nb.distill import DistillConfig, train, evaluate_run
    cfg = DistillConfig(prompt="a pirate hat", steps=2, batch_size=2, hqs_images=2, hqs_grid=(300, 700), train_images=8, eval_images=4)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run = train(cfg, tmp_path / "r", progress=False)
        m = evaluate_run(run)
    assert any("ground-truth metrics are skipped" in str(x.message) for x in w)
    assert m["edit_success"] is None and m["images_per_second"] > 0


def test_a_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    from sdd_nb.distill import DistillConfig, train
    cfg = DistillConfig(prompt="smiling", manipulator="image", selection="fixed:500", steps=40, batch_size=2, lr=1e6,
                        train_images=8, eval_images=4, ckpt_every=1, channels=8)
    with pytest.raises(FloatingPointError, match=r"not finite at step (\d+).*last good checkpoint is step (\d+)") as e:
        train(cfg, tmp_path / "r", progress=False)
    newest = max((tmp_path / "r" / "ckpt").glob("step_*"))              # the checkpoint the message names
    state = json.loads((newest / "state.json").read_text())
    from safetensors.torch import load_file
    assert all(torch.isfinite(v).all() for v in load_file(str(newest / "manipulator.safetensors")).values())
    assert state["step"] >= 1 and f"last good checkpoint is step {state['step']} " in str(e.value)


def test_missing_model_path_is_named(tmp_path):
    from sdd_nb.distill import DistillConfig, train
    with pytest.raises(FileNotFoundError, match="not found"):
        train(DistillConfig(prompt="smiling", model="./no/such/sd"), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()       # nothing was created for a run that could not start
