"""Every number in the README's Results is found in a results file that its table row or paragraph cites
(`tools/readme_numbers.py`); a number typed by hand fails."""
import importlib.util
import re

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

spec = importlib.util.spec_from_file_location("readme_numbers", ROOT / "tools" / "readme_numbers.py")
rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)


def test_every_readme_result_number_is_in_a_results_file():
    problems = rn.check()
    assert not problems, "README numbers no results file backs:\n" + "\n".join(problems)


def test_a_number_edited_by_hand_fails():
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| toy-face rendering"))
    assert not rn.check(readme)
    edited = readme.replace(row, re.sub(r"\b657 faces/s", "675 faces/s", row))
    assert edited != readme
    problems = rn.check(edited)
    assert len(problems) == 1 and "'675'" in problems[0] and "render_speed.json" in problems[0], problems
    # and a row that cites no results file at all
    uncited = readme.replace(row, row.replace(" (median 638; `bench/results/render_speed.json`)", ""))
    assert any("no results file cited" in p for p in rn.check(uncited))


def test_the_checker_reads_numbers_as_written():
    assert rn.numbers("Table 1: 96.3% of 2,000 faces at 7.3x, SD v1.4, `figures/x.csv`, 2026-11-30 02:04, 57 minutes") == \
        [("96.3", "%"), ("2,000", ""), ("7.3", ""), ("57", "min")]
    assert rn.found("90.5", "%", {0.905}) and rn.found("1,950", "s", {1950.0}) and rn.found("57", "min", {3430.0})
    assert rn.found("1.90", "s", {1897.79}) and rn.found("4.0", "", set(), exact={4.0})
    assert not rn.found("90.5", "", {0.905}) and not rn.found("29.1", "", {1746.0}) and not rn.found("90.6", "%", {0.905})
    assert not rn.found("4.1", "", set(), exact={4.0})          # paper numbers and settings only exactly
