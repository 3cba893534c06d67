"""The sweep notebook (issue on clean edits): trials of configurations x selections x prompts on the validation split,
a table, a summary and figures; a second run reuses the finished trials."""
import json

import pandas as pd
import papermill as pm
import pytest

SMALL = {"prompts": ["surprised", "glasses"], "steps": 2, "batch_size": 2, "train_images": 8, "hqs_images": 2, "hqs_step": 400,
         "eval_images": 4, "configs": {"paper": {"guidance": "sds", "prompts": "edit", "decoding": "plain"}, "clean": {}}}   # clean: the defaults


def run(root, tmp_path, **params):
    return pm.execute_notebook(str(root / "nbs" / "sweep.ipynb"), str(tmp_path / "sweep.ipynb"), cwd=str(root), progress_bar=False,
                               parameters={**SMALL, "runs_dir": str(tmp_path / "runs"), "out_dir": str(tmp_path / "out"), **params})


def test_sweep_writes_table_summary_and_figures_and_reuses_trials(root, tmp_path):
    run(root, tmp_path, jobs=2)                                          # two trials at a time, in fresh processes
    out = tmp_path / "out"
    assert {"sweep.csv", "sweep_summary.csv", "sweep_scatter.png", "sweep_grid.png", "sweep_run.json", "sweep_table.md"} <= {p.name for p in out.iterdir()}
    t = pd.read_csv(out / "sweep.csv")
    assert (t.scored_by == "scorer").all()                              # never the judge that trained them
    md = (out / "sweep_table.md").read_text()
    assert md.count("| surprised |") == 1 and "paper / largest" in md and "prompts meeting the targets" in md
    assert len(t) == 4 and set(t.config) == {"paper", "clean"} and set(t.prompt) == {"surprised", "glasses"}
    assert t.edit_success.between(0, 1).all() and t.preservation.between(0, 1).all()
    assert t.clean_success.between(0, 1).all() and (t.clean_success <= t.edit_success).all()   # clean: read as edited AND a clean image
    assert "clean success [the scorer's edit success alone]" in md
    s = pd.read_csv(out / "sweep_summary.csv")
    assert set(s.config) == {"paper", "clean"} and (s.prompts == 2).all()
    meta = json.loads((out / "sweep_run.json").read_text())
    assert meta["split"] == "val" and "threads" not in meta["machine"] and meta["parameters"]["steps"] == 2
    # every trial was measured on the validation split, and the clean configuration trained with its levers
    m = json.loads((tmp_path / "runs" / "clean-largest" / "surprised-seed0" / "metrics_val.json").read_text())
    assert m["split"] == "val" and m["parameters"]["guidance"] == "dds" and m["parameters"]["decoding"] == "residual"
    # a second run reuses the finished trials: the same numbers, nothing retrained
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("manipulator.safetensors")}
    run(root, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("manipulator.safetensors")} == before
    pd.testing.assert_frame_equal(pd.read_csv(out / "sweep.csv").drop(columns=["train_seconds", "hqs_seconds"]),
                                  t.drop(columns=["train_seconds", "hqs_seconds"]))


def test_sweep_names_a_bad_setting_before_training(root, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="unknown DistillConfig settings"):
        run(root, tmp_path, configs={"x": {"guidence": "dds"}})
    with pytest.raises(pm.PapermillExecutionError, match="unknown toy-world prompt"):
        run(root, tmp_path, prompts=["purple hair"])
    with pytest.raises(pm.PapermillExecutionError, match="split must be 'val'"):
        run(root, tmp_path, split="train")
    assert not (tmp_path / "runs").exists()


def test_sweep_measures_the_trained_mappers_with_another_decoder(root, tmp_path):
    "`decoders`: every trained latent mapper is measured again with another autoencoder of the supervisor's latents, as rows of its own."
    from diffusers import AutoencoderTiny
    AutoencoderTiny(encoder_block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8), num_encoder_blocks=(1, 1, 1),
                    num_decoder_blocks=(1, 1, 1)).save_pretrained(tmp_path / "fast-ae")   # random weights: the code path
    run(root, tmp_path, prompts=["glasses"], configs={"clean": {}}, decoders=[str(tmp_path / "fast-ae")])
    t = pd.read_csv(tmp_path / "out" / "sweep.csv")
    assert sorted(t.config) == ["clean", "clean+fast-ae"]
    run_dir = tmp_path / "runs" / "clean-largest" / "glasses-seed0"
    assert (run_dir / "metrics_val.json").exists()                        # the run's own measurement is kept
    m = json.loads(next(run_dir.glob("metrics_val_*fast-ae.json")).read_text())
    assert m["decoder"] == str(tmp_path / "fast-ae") and json.loads((run_dir / "metrics_val.json").read_text())["decoder"] == "vae"
