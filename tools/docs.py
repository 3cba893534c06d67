"""A browsable static HTML site of the notebooks, with their outputs (`make docs` -> _site/index.html).

Library notebooks (nbs/NN_*.ipynb and nbs/index.ipynb) are the documentation: they are executed here,
in nbs/ as nbdev-test runs them (cells flagged `#| eval: false`, `slow`, `notest` or `gpu` are shown,
not run). Experiment notebooks (train, hqs, compare, ...) run for minutes to an hour: each is rendered
from its newest executed copy under _runs/ (`make demo`, `make figures`, `make reproduce`, papermill)
when there is one, else from its source with a note that says how to produce its outputs.
Links between notebooks become links between pages, images that markdown cells show are copied
beside the pages, and widget outputs (tqdm's bars) are dropped: the site needs no server and no kernel.

    python tools/docs.py                              # everything into _site/ (one notebook at a time)
    python tools/docs.py --out /tmp/site --only index,00_core
    python tools/docs.py --no-execute                 # library notebooks as they are (no outputs)
"""
import argparse, copy, html, json, os, re, shutil, sys, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sdd_nb.core import save_text          # atomically: a killed build never leaves half a page

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"

# Reading order: SDD itself, the experiments, the library's remaining parts, the embedded world (appendix).
SECTIONS = [
    ("SDD", ["index", "02_guidance", "03_hqs", "04_manipulators", "05_distill", "train"]),
    ("Experiments", ["hqs", "compare", "tradeoff", "ablation", "figure7", "table2", "sweep"]),
    ("The library", ["00_core", "05b_clipdir", "06_baselines", "07_metrics", "08_reproduce", "09_stylegan2",
                     "10_identity", "11_presets", "12_api"]),
    ("Appendix: the embedded world", ["01_toyfaces", "01e_domains", "01f_toycats", "01g_toycars", "01b_imagefolder", "01c_models",
                                      "01d_pretrain", "pretrain", "toyworld"]),
]
ORDER = [n for _, names in SECTIONS for n in names]

# Where the project's commands leave executed copies of each experiment notebook (the first pattern with a finished
# run wins, its newest file), and the command that writes the first of them.
RUNS = {
    "train": (["_runs/train-white_hair.ipynb", "_runs/train*.ipynb", "_runs/*/train.ipynb"], "make demo"),
    "toyworld": (["_runs/toyworld.ipynb", "_runs/*/toyworld.ipynb"], "make demo"),
    "hqs": (["_runs/hqs.ipynb", "_runs/reproduce/hqs.ipynb", "_runs/hqs*.ipynb"], "make figures"),
    "compare": (["_runs/reproduce/compare.ipynb", "_runs/compare*.ipynb"], "make reproduce"),
    "tradeoff": (["_runs/reproduce/tradeoff.ipynb", "_runs/tradeoff*.ipynb"], "make reproduce"),
    "ablation": (["_runs/reproduce/ablation.ipynb", "_runs/ablation*.ipynb"], "make reproduce"),
    "figure7": (["_runs/reproduce/figure7.ipynb", "_runs/figure7*.ipynb"], "make reproduce"),
    "table2": (["_runs/reproduce/table2.ipynb", "_runs/table2*.ipynb"], "make reproduce"),
    "sweep": (["_runs/sweep_test.ipynb", "_runs/sweep*.ipynb"],
              "papermill nbs/sweep.ipynb _runs/sweep_test.ipynb -f nbs/configs/sweep_test.yaml"),
    "pretrain": (["_runs/pretrain.ipynb", "_runs/pretrain/*.ipynb"],
                 "papermill nbs/pretrain.ipynb _runs/pretrain.ipynb (an hour and more on the CPU)"),
}
SKIP_FLAGS = {"slow", "notest", "gpu"}          # pyproject's tst_flags: nbdev-test does not run these cells
WIDGET = "application/vnd.jupyter.widget-view+json"
_DIRECTIVE = re.compile(r"^\s*#\|\s?(.*)$")
_MD_IMG = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_HTML_IMG = re.compile(r"(<img\b[^>]*?\bsrc=[\"'])([^\"']+)([\"'])")


def sections() -> list[tuple[str, list[str]]]:
    "SECTIONS with the notebooks of nbs/ that it does not name: a library notebook at the end of the library, an experiment after the experiments."
    here = {p.stem for p in NBS.glob("*.ipynb")}
    secs = [(t, [n for n in names if n in here]) for t, names in SECTIONS]
    for n in sorted(here - set(ORDER)): secs[2 if is_library(n) else 1][1].append(n)
    return secs


def reading_order() -> list[str]: return [n for _, names in sections() for n in names]


def is_library(name: str) -> bool: return name == "index" or bool(re.match(r"\d", name))


def page_of(name: str) -> str:
    "The page of a notebook: index.ipynb (the README's source) is readme.html, index.html being the site's front page."
    return "readme.html" if name == "index" else f"{name}.html"


def inline_md(s: str) -> str:
    "A description line as HTML: escaped, with `code`, **bold** and *italics*."
    s = html.escape(s, quote=False)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
    return re.sub(r"\*([^*]+)\*", r"<i>\1</i>", s)


def directives(src: str) -> tuple[list[str], str]:
    "The `#| ...` lines at the top of a cell, and the source without them."
    lines, out = src.splitlines(), []
    i = 0
    while i < len(lines) and (m := _DIRECTIVE.match(lines[i])):
        out.append(m.group(1).strip()); i += 1
    return out, "\n".join(lines[i:]).strip("\n")


def skipped(ds: list[str]) -> bool:
    "nbdev-test's rule: `eval: false` and the test flags are not run."
    return any(re.fullmatch(r"eval:\s*false", d, flags=re.I) or d.split()[0] in SKIP_FLAGS for d in ds if d)


def title_of(nb: dict, name: str) -> tuple[str, str]:
    "The first `# ` heading and the `> ` description after it (nbdev's convention)."
    for c in nb["cells"]:
        if c["cell_type"] != "markdown": continue
        src = "".join(c["source"])
        if m := re.search(r"^#\s+(.+)$", src, flags=re.M):
            desc = re.search(r"^>\s*(.+(?:\n>\s*.+)*)", src[m.end():].lstrip("\n"), flags=re.M)
            d = re.sub(r"\s*\n>\s*", " ", desc.group(1)) if desc else ""
            return m.group(1).strip(), d.strip()
    return name, ""


def run_state(nb: dict) -> str:
    "An executed notebook's state: 'finished', 'failed' (an error output) or 'unfinished' (papermill did not get to the end)."
    pm = nb.get("metadata", {}).get("papermill", {})
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if pm.get("exception") or any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])): return "failed"
    if pm and (not pm.get("end_time") or any(c["metadata"].get("papermill", {}).get("status") in ("pending", "running") for c in code)):
        return "unfinished"
    return "finished" if any(c.get("outputs") for c in code) else "unfinished"


def find_run(name: str) -> Path | None:
    """The executed copy of an experiment notebook under _runs/: the first of RUNS' patterns with a finished run (the
    newest of its files), else the newest run that failed or did not finish."""
    pats = RUNS.get(name, ([f"_runs/{name}.ipynb"], ""))[0]
    others = []
    for pat in pats:
        hits = sorted((p for p in ROOT.glob(pat) if p.is_file() and ".ipynb_checkpoints" not in p.parts),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for p in hits:
            try: state = run_state(json.loads(p.read_text()))
            except (OSError, ValueError, KeyError): continue          # a notebook being written, or not one
            if state == "finished": return p
            others.append(p)
    return max(others, key=lambda p: p.stat().st_mtime) if others else None


def _copy_image(src: str, nb_dir: Path, out: Path, missing: list[str]) -> str:
    "Copy an image a markdown cell shows into the site (at its path under the project) and return its new src."
    if re.match(r"^(https?:|data:|/)", src): return src
    for base in (nb_dir, ROOT):                    # as Jupyter resolves it, then as the README (at the root) does
        p = (base / src).resolve()
        if p.is_file() and ROOT in p.parents:
            rel = p.relative_to(ROOT).as_posix()
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists() or dest.stat().st_mtime < p.stat().st_mtime: shutil.copy2(p, dest)
            return rel
    missing.append(src)
    return src


def _carriage_returns(text: str) -> str:
    "Text as a terminal shows it: each line keeps what follows its last carriage return (tqdm redraws its bar so)."
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


def coalesce(outputs: list[dict]) -> list[dict]:
    "Consecutive stream outputs of one name merged, carriage returns applied: a text progress bar (papermill records each redraw) keeps its last state."
    out = []
    for o in outputs:
        if o.get("output_type") == "stream":
            text = "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
            if out and out[-1].get("output_type") == "stream" and out[-1]["name"] == o["name"]:
                out[-1] = {**out[-1], "text": out[-1]["text"] + text}
            else:
                out.append({**o, "text": text})
        else:
            out.append(o)
    for o in out:
        if o.get("output_type") == "stream": o["text"] = _carriage_returns(o["text"])
    return out


def prepare(nb: dict, name: str, out: Path, nb_dir: Path, missing: list[str]) -> dict:
    "The notebook as the site shows it: directives and hidden cells gone, images copied, includes expanded, widgets dropped."
    nb = copy.deepcopy(nb)
    cells = []
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "raw": continue                               # nbdev front matter
        if c["cell_type"] == "markdown":
            if name == "index":                                             # the README's included tables
                sys.path.insert(0, str(ROOT / "tools"))
                from readme import _include
                src = re.sub(r"^<!-- include: (\S+) -->$", _include, src, flags=re.M)
            src = _MD_IMG.sub(lambda m: m.group(1) + _copy_image(m.group(2), nb_dir, out, missing) + m.group(3), src)
            src = _HTML_IMG.sub(lambda m: m.group(1) + _copy_image(m.group(2), nb_dir, out, missing) + m.group(3), src)
        elif c["cell_type"] == "code":
            ds, src = directives(src)
            if any(d.split()[0] in ("hide", "default_exp") for d in ds if d) or not src.strip(): continue
            c["outputs"] = coalesce([o for o in c.get("outputs", []) if WIDGET not in o.get("data", {})])   # widgets: a kernel's
        c["source"] = src
        cells.append(c)
    nb["cells"] = cells
    nb["metadata"].pop("widgets", None)
    return nb


def execute(nb: dict, timeout: int) -> tuple[dict, str | None, float]:
    "Run a library notebook in nbs/ (a kernel of this interpreter), skipping the cells nbdev-test skips."
    from nbconvert.preprocessors import ExecutePreprocessor, CellExecutionError

    class Exec(ExecutePreprocessor):
        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and skipped(directives(cell.source)[0]): return cell, resources
            return super().preprocess_cell(cell, resources, index)

    import nbformat
    node = nbformat.reads(json.dumps(nb), as_version=4)        # sources joined into strings
    t0, err = time.perf_counter(), None
    try:
        Exec(timeout=timeout, kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=CRITICAL"]   # not its TCP notice
             ).preprocess(node, {"metadata": {"path": str(NBS)}})
    except CellExecutionError as e:
        err = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
    except Exception as e:                                               # a dead kernel, a timeout
        err = f"{type(e).__name__}: {e}"
    return json.loads(nbformat.writes(node)), err, time.perf_counter() - t0


def _nav(name: str, pages: list[str], titles: dict) -> str:
    i = pages.index(name)
    prev = f'<a href="{page_of(pages[i-1])}">&larr; {html.escape(titles[pages[i-1]])}</a>' if i > 0 else "<span></span>"
    nxt = f'<a href="{page_of(pages[i+1])}">{html.escape(titles[pages[i+1]])} &rarr;</a>' if i + 1 < len(pages) else "<span></span>"
    return (f'<nav class="sdd-nav"><a href="index.html"><b>sdd-nb</b> notebooks</a>{prev}{nxt}</nav>')


CSS = """<style>
.sdd-nav{display:flex;gap:2em;justify-content:space-between;padding:.6em 1.2em;border-bottom:1px solid #ddd;
  font:14px/1.4 system-ui,sans-serif;background:#fafafa;position:sticky;top:0;z-index:10}
.sdd-note{margin:1em 2em;padding:.7em 1em;border-left:4px solid #e0a000;background:#fff8e5;font:14px/1.5 system-ui,sans-serif}
.sdd-note.ok{border-color:#3a8f3a;background:#eef8ee}.sdd-note.bad{border-color:#c33;background:#fdeeee}
</style>"""


def render_page(nb: dict, name: str, note: tuple[str, str] | None, pages: list[str], titles: dict) -> str:
    "One notebook as a standalone HTML page (nbconvert's lab template), with the site's navigation."
    import nbformat
    from nbconvert import HTMLExporter
    ex = HTMLExporter(template_name="lab")
    body, _ = ex.from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4), resources={"metadata": {"name": titles[name]}})
    site = set(pages)
    # links between notebooks: foo.ipynb -> foo.html; a `nbs/foo.ipynb` in code becomes a link to its page
    body = re.sub(r'href="(?:\.\./nbs/|nbs/)?([\w-]+)\.ipynb(#[^"]*)?"',
                  lambda m: f'href="{page_of(m.group(1))}{m.group(2) or ""}"' if m.group(1) in site else m.group(0), body)
    body = re.sub(r"<code>(?:nbs/)?([\w-]+)\.ipynb</code>",
                  lambda m: f'<a href="{page_of(m.group(1))}">{m.group(0)}</a>' if m.group(1) in site else m.group(0), body)
    head = _nav(name, pages, titles)
    if note: head += f'<div class="sdd-note {note[0]}">{note[1]}</div>'
    body = body.replace("</head>", CSS + "\n</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + head, body, count=1)


def render_index(entries: list[dict], built: str) -> str:
    "The site's front page: the notebooks in reading order, by section."
    parts = []
    for section, names in sections():
        items = [e for e in entries if e["name"] in names]
        if not items: continue
        lis = "".join(
            f'<li><a href="{page_of(e["name"])}">{html.escape(e["title"])}</a> <code>nbs/{e["name"]}.ipynb</code>'
            f'<span class="st {e["cls"]}">{html.escape(e["status"])}</span>'
            + (f'<div class="d">{inline_md(e["desc"])}</div>' if e["desc"] else "") + "</li>" for e in items)
        parts.append(f"<h2>{html.escape(section)}</h2><ol>{lis}</ol>")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sdd-nb notebooks</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}}
li{{margin:.5em 0}} code{{font-size:.85em;color:#666;margin-left:.5em}} .d{{color:#444;font-size:.92em}}
.st{{font-size:.75em;margin-left:.7em;padding:.05em .5em;border-radius:.7em;background:#eee}}
.st.ok{{background:#dff0d8}} .st.src{{background:#fcf3d4}} .st.bad{{background:#f7d6d6}}</style></head><body>
<h1>sdd-nb: the notebooks</h1>
<p>A notebook-first companion to <i>Not All Steps are Created Equal: Selective Diffusion Distillation for
Image Manipulation</i> (SDD, ICCV 2023). Each page is a notebook of <code>nbs/</code> with its outputs, in
reading order: SDD itself, the experiments, the rest of the library, then the embedded toy world.
Library notebooks were executed for this site; experiment notebooks show their last run under
<code>_runs/</code> where there is one.</p>
{''.join(parts)}
<p style="color:#777;font-size:.85em">Built {built} by <code>python tools/docs.py</code> (<code>make docs</code>).</p>
</body></html>
"""


def build(out: Path, only: list[str] | None = None, execute_lib: bool = True, jobs: int = 1, timeout: int = 900,
          log=print) -> dict:
    "Build the site into `out`; returns {name: entry} (status, seconds, error, missing images)."
    order = reading_order()
    names = [n for n in order if not only or n in only]
    unknown = sorted(set(only or []) - set(order))
    if unknown: raise SystemExit(f"unknown notebooks {unknown}: choose among {order}")
    extra = [n for n in names if n not in ORDER]
    if extra: log(f"note: {extra} are not in tools/docs.py's SECTIONS: placed at the end of their part")
    out.mkdir(parents=True, exist_ok=True)
    if not only:                                                     # pages of notebooks that are gone
        for p in set(out.glob("*.html")) - {out / page_of(n) for n in names} - {out / "index.html"}: p.unlink()
    src = {n: json.loads((NBS / f"{n}.ipynb").read_text()) for n in names}
    titles = {n: title_of(src[n], n)[0] for n in names}

    def one(n: str) -> dict:
        e = {"name": n, "title": titles[n], "desc": title_of(src[n], n)[1], "seconds": 0.0, "error": None, "missing": []}
        nb, note = src[n], None
        if is_library(n):
            if execute_lib:
                nb, e["error"], e["seconds"] = execute(nb, timeout)
                e["status"], e["cls"] = ("executed", "ok") if not e["error"] else ("execution failed", "bad")
                if e["error"]:
                    note = ("bad", f"Executing this notebook failed: <code>{html.escape(e['error'])}</code>. "
                                   "The outputs stop there; <code>nbdev-test --file-re '^" + n + "'</code> reproduces it.")
            else:
                e["status"], e["cls"] = "source", "src"
                note = ("", "Rendered without executing (<code>tools/docs.py --no-execute</code>): no outputs.")
        else:
            run = find_run(n)
            if run:
                nbr = json.loads(run.read_text())
                pm = nbr.get("metadata", {}).get("papermill", {})
                when = datetime.fromtimestamp(run.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
                params = ", ".join(f"{k}={v!r}" for k, v in (pm.get("parameters") or {}).items())
                state, nb = run_state(nbr), nbr
                e["status"], e["cls"] = ("last run", "ok") if state == "finished" else (f"last run ({state})", "bad")
                cmd = RUNS.get(n, ([], f"papermill nbs/{n}.ipynb _runs/{n}.ipynb"))[1]
                note = ("ok" if state == "finished" else "bad",
                        f"Outputs of <code>{run.relative_to(ROOT)}</code>, executed {when}"
                        + (f" with parameters <code>{html.escape(params)}</code>" if params else "")
                        + {"finished": ".", "failed": ". <b>That run failed</b>: see its last outputs.",
                           "unfinished": f". <b>That run did not finish</b> (killed or still running): the outputs stop "
                                         f"where it was; <code>{html.escape(cmd)}</code> runs it again."}[state]
                        + " The notebook may have changed since; rerun it to refresh.")
            else:
                cmd = RUNS.get(n, ([], f"papermill nbs/{n}.ipynb _runs/{n}.ipynb"))[1]
                e["status"], e["cls"] = "source only", "src"
                note = ("", f"This experiment runs for minutes or more, so the site shows it as source, without outputs. "
                            f"To see them, run <code>{html.escape(cmd)}</code> (it writes an executed copy under "
                            f"<code>_runs/</code>), then <code>make docs</code> again.")
        page = prepare(nb, n, out, NBS, e["missing"])
        save_text(render_page(page, n, note, names, titles), out / page_of(n))
        log(f"{n:>16}: {e['status']}" + (f" in {e['seconds']:.0f} s" if e["seconds"] else "")
            + (f"  ERROR {e['error']}" if e["error"] else "") + (f"  missing images {e['missing']}" if e["missing"] else ""))
        return e

    with ThreadPoolExecutor(max(1, jobs)) as pool: entries = list(pool.map(one, names))
    built = datetime.now().strftime("%Y-%m-%d %H:%M")
    save_text(render_index(entries, built), out / "index.html")
    return {e["name"]: e for e in entries}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "_site"), help="the site's folder (default _site/)")
    ap.add_argument("--only", default="", help="comma-separated notebook names (e.g. index,00_core); default all")
    ap.add_argument("--no-execute", action="store_true", help="render library notebooks without running them")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at a time (default 1)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds a cell may run (default 900)")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.pop("MPLBACKEND", None)      # the kernels inherit it, and ipykernel plots inline only when it is unset
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    t0 = time.perf_counter()
    only = [s.strip().removesuffix(".ipynb") for s in a.only.split(",") if s.strip()] or None
    res = build(Path(a.out).resolve(), only, not a.no_execute, a.jobs, a.timeout)
    bad = [n for n, e in res.items() if e["error"] or e["missing"]]
    print(f"{len(res)} pages in {Path(a.out).resolve() / 'index.html'} ({time.perf_counter() - t0:.0f} s)")
    if bad: print(f"problems in {bad}: see above"); return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
