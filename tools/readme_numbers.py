"""Every number in the README's Results is backed by a committed results file: the checker.

README.md's Results section (from `## Results` to the end) is split into blocks: each table row, each
paragraph, each table that `tools/readme.py` included from a results file. A block's numbers must be
found in the files the block itself cites (`figures/...`, `bench/results/...`, `data/models/...`, globs
allowed), in `data/paper_numbers.json` (the paper's published numbers, transcribed once) or in the
experiment configurations `nbs/configs/*.yaml` (settings such as 300 steps or 200 faces; these two only
exactly as written). A number is found when a number of the block's files rounds to it at the README's
precision, as it is, or by its unit: a fraction as a percentage (0.905 -> "90.5%"), seconds as minutes
("57 minutes"), milliseconds as seconds ("1.90 s"). A block with numbers and no results file of its own
fails, and so does a number no cited file holds: a number typed by hand. An included table must be
its file's text.

    python tools/readme_numbers.py            # exit 1 and list the numbers no file backs
"""
import re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALWAYS = ["data/paper_numbers.json", "nbs/configs/*.yaml"]
_CITE = re.compile(r"(?:figures|bench/results|data/models|data)/[\w.*/-]+\.(?:csv|json|md|yaml)")
_NUM = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?![\d,])|-?\d+(?:\.\d+)?)(?!\.?\d)")
_FILE_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE]-?\d+)?")          # CSV/JSON: commas separate fields
# numbers that name things, not results: Table 1, Figures 1 and 6, SD v1.4, section 4.2, equations 8-12, dates, ids
_NAMES = re.compile(r"(?:Tables?|Figures?|Figure-|section|equations?|Algorithm|v|ICCV|arXiv|seeds?)\s*\[?$|(?:Tables?|Figures?) \d+ (?:and|-) $")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?")
_UNITS = {"%": re.compile(r"^\s?%"), "min": re.compile(r"^\s?(?:min|minutes)\b"), "s": re.compile(r"^\s?s\b")}


def _strip(text: str) -> str:
    "Drop code spans, link targets and dates: paths, commands and timestamps are not results."
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return _DATE.sub(" ", text)


def numbers(text: str) -> list[tuple[str, str]]:
    "The result numbers of a README block, as written, each with its unit ('%', 'min', 's' or '')."
    s, out = _strip(text), []
    for m in _NUM.finditer(s):
        if _NAMES.search(s[max(0, m.start() - 24):m.start()]): continue
        after = s[m.end():m.end() + 12]
        out.append((m.group(1), next((u for u, r in _UNITS.items() if r.match(after)), "")))
    return out


def _values(paths) -> set[float]:
    vals = set()
    for p in paths:
        text = _DATE.sub(" ", p.read_text(errors="replace"))
        pat = _NUM if p.suffix in (".md", ".yaml") else _FILE_NUM
        vals |= {float(m.group(1 if pat is _NUM else 0).replace(",", "")) for m in pat.finditer(text)}
    return vals


def found(number: str, unit: str, values: set[float], exact: set[float] = frozenset()) -> bool:
    "Is `number` (with `unit`) one of `values` at its precision, directly or by its unit's conversion, or exactly one of `exact`?"
    x = float(number.replace(",", "")); d = len(number.split(".")[1]) if "." in number else 0
    tol = 0.5 * 10 ** -d + 1e-9
    scale = {"%": 100, "min": 1 / 60, "s": 1 / 1000}.get(unit)
    return x in exact or any(abs(v - x) <= tol or (scale is not None and abs(v * scale - x) <= tol) for v in values)


def blocks(readme: str) -> list[tuple[str, list[str]]]:
    "(text, files it draws on) for each table row, paragraph and included table of the Results section."
    if "\n## Results" not in readme: return []
    lines = readme.split("\n## Results", 1)[1].split("\n")[1:]
    out, para, skip = [], [], 0
    def flush():
        if para: out.append(("\n".join(para), [])); para.clear()
    for line in lines:
        if skip: skip -= 1; continue                      # an included file is its own text: nothing typed
        m = re.match(r"<!-- from (\S+) -->", line)
        if m:
            flush(); f = ROOT / m.group(1)
            text = f.read_text().strip("\n").split("\n") if f.is_file() else []
            here = lines[lines.index(line) + 1:lines.index(line) + 1 + len(text)]
            if here != text: out.append((f"<!-- from {m.group(1)} --> differs from the file", ["STALE"]))
            skip = len(text)
            continue
        if line.startswith("|"):
            flush()
            if not re.match(r"\|[\s|:-]+\|?$", line): out.append((line, []))
        elif line.strip() and not line.startswith(("#", "![")): para.append(line)
        else: flush()
    flush()
    return [(t, c or sorted({x for x in _CITE.findall(t)})) for t, c in out]


def check(readme: str | None = None, root: Path = ROOT) -> list[str]:
    "Problems: each README number that no file the block cites (or the paper's, or a config) holds."
    readme = (root / "README.md").read_text() if readme is None else readme
    exact = _values([p for g in ALWAYS for p in sorted(root.glob(g))])
    problems = []
    for text, cited in blocks(readme):
        if cited == ["STALE"]: problems.append(f"{text}: run make readme"); continue
        nums = numbers(text)
        if not nums: continue
        files = [p for c in cited for p in sorted(root.glob(c)) if p.is_file()]
        missing_files = [c for c in cited if not any(root.glob(c))]
        head = text.strip().splitlines()[0][:90]
        if missing_files: problems.append(f"{head!r} cites {missing_files}, which do not exist")
        vals = _values(files)
        bad = [n for n, u in nums if not found(n, u, vals, exact)]
        if bad and not files: problems.append(f"{head!r}: numbers {bad} and no results file cited in the block")
        elif bad: problems.append(f"{head!r}: {bad} found in none of {[str(f.relative_to(root)) for f in files]}")
    return problems


if __name__ == "__main__":
    probs = check()
    for p in probs: print("-", p)
    print(f"{len(probs)} README result blocks with numbers no results file backs" if probs else
          "every number in the README's Results is found in a results file it cites")
    sys.exit(1 if probs else 0)
