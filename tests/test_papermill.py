"""The experiment notebooks run under papermill with their parameters, and write where they are told."""
import json
from pathlib import Path

import pandas as pd
import papermill as pm


def test_toyworld_notebook_writes_figures(root, tmp_path):
    out = tmp_path / "figs"
    pm.execute_notebook(str(root / "nbs" / "toyworld.ipynb"), str(tmp_path / "run.ipynb"), cwd=str(root),
                        parameters={"n_faces": 4, "n_stats": 20, "size": 32, "out_dir": str(out)}, progress_bar=False)
    names = {p.name for p in out.iterdir()}
    assert {"toyfaces_grid.png", "toyfaces_attributes.png", "toyfaces_masks.png",
            "toyfaces_counterfactuals.png", "toyfaces_stats.csv"} <= names
    stats = pd.read_csv(out / "toyfaces_stats.csv").set_index("attribute")
    assert (stats.drop(index="pose")["edit_px_outside_mask"] == 0).all()
    assert (stats["edit_px_changed"] > 0).all()
    # the parameters cell is tagged, so papermill injected ours after it
    nb = json.loads((tmp_path / "run.ipynb").read_text())
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert ["parameters"] in tags and ["injected-parameters"] in tags


def test_every_experiment_notebook_has_one_parameters_cell(root):
    for nb_path in (root / "nbs").glob("[a-z]*.ipynb"):
        if nb_path.name == "index.ipynb": continue
        nb = json.loads(nb_path.read_text())
        n = sum("parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
        assert n == 1, f"{nb_path.name}: {n} cells tagged 'parameters' (papermill needs exactly one)"


def test_hqs_notebook_writes_curves_and_selection(root, tmp_path):
    out = tmp_path / "hqs"
    pm.execute_notebook(str(root / "nbs" / "hqs.ipynb"), str(tmp_path / "run.ipynb"), cwd=str(root),
                        parameters={"prompts": ["smiling", "white hair"], "n_images": 2, "t_step": 400, "xi": 0.0,
                                    "out_dir": str(out)}, progress_bar=False)
    assert {"hqs_curves.png", "hqs_grad_maps.png", "hqs_table.csv", "hqs_selected.csv", "hqs_run.json"} <= {p.name for p in out.iterdir()}
    table = pd.read_csv(out / "hqs_table.csv")
    assert sorted(table.prompt.unique()) == ["smiling", "white hair"] and sorted(table.t.unique()) == [100, 500, 900]
    assert table.hqs.between(-1, 1).all() and (table.n_images == 2).all()
    sel = pd.read_csv(out / "hqs_selected.csv").set_index(["prompt", "strategy"])
    best = json.loads((out / "hqs_run.json").read_text())["best"]
    for p in ("smiling", "white hair"):
        assert str(best[p]) == str(sel.loc[(p, "largest"), "timesteps"])
        assert sel.loc[(p, "largest"), "mean_hqs"] == table[table.prompt == p].hqs.max().round(4)


def test_hqs_notebook_rejects_an_unknown_prompt(root, tmp_path):
    import pytest
    with pytest.raises(pm.PapermillExecutionError, match="unknown toy-world prompt"):
        pm.execute_notebook(str(root / "nbs" / "hqs.ipynb"), str(tmp_path / "run.ipynb"), cwd=str(root),
                            parameters={"prompts": ["purple hair"], "n_images": 1, "t_step": 400, "out_dir": str(tmp_path / "o")},
                            progress_bar=False)



def test_help_notebook_lists_every_parameter_with_its_help(root, python):
    "`papermill --help-notebook` documents each parameter (a comment it cannot parse drops the parameter from the help)."
    import re, subprocess
    for nb_path in sorted((root / "nbs").glob("[a-z]*.ipynb")):
        if nb_path.name == "index.ipynb": continue
        cell = next(c for c in json.loads(nb_path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
        names = [m.group(1) for line in "".join(cell["source"]).splitlines() if (m := re.match(r"(\w+)\s*:", line))]
        out = subprocess.run([str(Path(python).parent / "papermill"), "--help-notebook", str(nb_path)], capture_output=True, text=True).stdout
        listed = re.findall(r"^  (\w+): ", out, flags=re.M)
        assert listed == names, f"{nb_path.name}: the help lists {listed}, the parameters cell has {names}"
