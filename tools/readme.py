"""README.md is rendered from nbs/index.ipynb: its markdown cells as they are, its code cells as
python blocks (outputs are not rendered). A markdown line `<!-- include: PATH -->` is replaced by the
file at PATH (relative to the project root), so that tables of measured numbers are the results files'
own (e.g. `figures/sweep_test_table.md`, written by nbs/sweep.ipynb); `--check` then also catches a
results file that changed without the README. Image and link targets written relative to nbs/ (`../figures/x.png`,
so that JupyterLab shows them in index.ipynb) are rewritten relative to the project root (`figures/x.png`).

    python tools/readme.py --write   # regenerate README.md
    python tools/readme.py --check   # exit 1 if README.md is out of step
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _include(m: re.Match) -> str:
    path = ROOT / m.group(1)
    if not path.is_file(): sys.exit(f"nbs/index.ipynb includes {m.group(1)}, which does not exist: run the notebook that writes it")
    return f"<!-- from {m.group(1)} -->\n" + path.read_text().strip("\n")


def render(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for c in nb["cells"]:
        src = "".join(c["source"]).strip("\n")
        if not src or src.startswith("#| hide"): continue
        if c["cell_type"] == "markdown":
            src = re.sub(r"^<!-- include: (\S+) -->$", _include, src, flags=re.M)
            src = re.sub(r"\]\(\.\./", "](", src)                      # nbs/-relative targets -> root-relative
        parts.append(src if c["cell_type"] == "markdown" else f"```python\n{src}\n```")
    return "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n" + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--write" in sys.argv:
        from sdd_nb.core import save_text                     # atomically: a kill never leaves half a README
        save_text(text, readme); print(f"wrote {readme}")
    elif "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print("README.md is out of step with nbs/index.ipynb: run `make readme` (python tools/readme.py --write)"); sys.exit(1)
        print("README.md is in step with nbs/index.ipynb")
    else:
        print(__doc__); sys.exit(2)
