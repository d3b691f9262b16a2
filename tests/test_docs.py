"""The documentation stays inside the project and its links resolve.

* No file of the package, the examples, the benchmarks or the docs points at the method file that
  lived outside the repository, or at anything under ``../shared``: the method is
  ``docs/method.md``.
* Every relative link of ``README.md`` and ``docs/*.md`` names an existing file, and a link with
  an anchor names a heading of that file (GitHub's heading slugs).
* The files and the defaults that ``docs/method.md`` states exist and agree with the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferlca.lca.defaults import default_lifetime_years, default_pue
from inferlca.lca.grid import grid_intensity

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "inferlca"
METHOD = ROOT / "docs" / "method.md"

# spelled in two pieces so that this file does not match its own search
OUTSIDE_METHOD = "METHOD" + ".md"
OUTSIDE_DIR = "../" + "shared"

TEXT_SUFFIXES = {".py", ".csv", ".md", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ".ini"}


def _text_files(*roots: Path) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
            continue
        out.extend(p for p in sorted(root.rglob("*"))
                   if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts)
    return out


def _hits(files: list[Path], needles: tuple[str, ...]) -> list[str]:
    hits = []
    for path in files:
        for n, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            if any(needle in line for needle in needles):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                hits.append(f"{shown}:{n}: {line.strip()[:120]}")
    return hits


def test_no_reference_to_the_method_file_outside_the_repository() -> None:
    files = _text_files(SRC, ROOT / "examples", ROOT / "benchmarks", ROOT / "docs",
                        ROOT / "README.md")
    assert len(files) > 50  # the search really covers the package
    assert _hits(files, (OUTSIDE_METHOD, OUTSIDE_DIR)) == []


def test_tests_do_not_cite_the_outside_method_file() -> None:
    files = [p for p in _text_files(ROOT / "tests") if p.resolve() != Path(__file__).resolve()]
    assert _hits(files, (OUTSIDE_METHOD,)) == []


def test_the_search_finds_a_planted_reference(tmp_path: Path) -> None:
    planted = tmp_path / "x.py"
    planted.write_text(f'"""see {OUTSIDE_DIR}/{OUTSIDE_METHOD} section 2"""\n', "utf-8")
    clean = tmp_path / "y.csv"
    clean.write_text("key,source\nx,\"docs/method.md, 'Seed study'\"\n", "utf-8")
    assert _hits([planted, clean], (OUTSIDE_METHOD, OUTSIDE_DIR)) == [
        f"x.py:1: {planted.read_text('utf-8').strip()}"]


# ---- links ---------------------------------------------------------------------------------------
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code removed."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in path.read_text("utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_slug_follows_github() -> None:
    assert slug("What the study did and what we do differently") == \
        "what-the-study-did-and-what-we-do-differently"
    assert slug("Estimating without the device (roofline)") == \
        "estimating-without-the-device-roofline"
    assert slug("`inferlca run`: benchmark a model through MLPerf LoadGen") == \
        "inferlca-run-benchmark-a-model-through-mlperf-loadgen"
    assert slug("Uncertainty: what the intervals mean") == "uncertainty-what-the-intervals-mean"


def _links(path: Path) -> list[str]:
    return [m.group(1) for line in _prose_lines(path.read_text("utf-8"))
            for m in LINK.finditer(line)]


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = page if not file_part else (page.parent / file_part)
        if not dest.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


def test_readme_and_the_topic_pages_link_the_method() -> None:
    assert "docs/method.md" in _links(ROOT / "README.md")
    for page in ("lca.md", "estimate.md"):
        assert any(t.startswith("method.md") for t in _links(ROOT / "docs" / page)), page


# ---- what docs/method.md states --------------------------------------------------------------------
def test_files_named_by_the_method_page_exist() -> None:
    text = METHOD.read_text("utf-8")
    named = set(re.findall(r"`([\w./-]+\.(?:py|csv|md|yaml))(?::[^`]*)?`", text))
    assert len(named) > 15
    def found(n: str) -> bool:
        if "/" not in n:  # a bare file name, after its full path was given: somewhere in the package
            return any(SRC.rglob(n))
        return (ROOT / n).exists() or (SRC / n).exists()

    missing = [n for n in sorted(named) if not found(n)]
    assert missing == []


def _fmt(x: float) -> str:
    return f"{x:g}"


def test_defaults_stated_by_the_method_page_are_those_of_the_code() -> None:
    text = METHOD.read_text("utf-8")
    pue = default_pue("datacenter")
    assert f"| 1.5 | {_fmt(pue.low)} - {_fmt(pue.high)} |" in text
    assert pue.value == 1.5
    for category in ("edge", "desktop", "gaming", None):
        p = default_pue(category)
        assert (p.value, p.low, p.high) == (1.0, 1.0, 1.0)
    life = default_lifetime_years()
    assert f"| 7 years | {_fmt(life.low)} - {_fmt(life.high)} |" in text
    assert life.value == 7
    fr = grid_intensity("FR")
    assert f"`FR`: {_fmt(fr.value)} gCO2e/kWh | {_fmt(fr.low)} - {_fmt(fr.high)} |" in text


def test_every_data_file_of_the_package_names_a_source_on_every_row() -> None:
    """What "Where each number comes from" promises, for every CSV under ``*/data/``."""
    import csv

    files = sorted(SRC.rglob("data/*.csv"))
    assert len(files) >= 8
    for path in files:
        rows = list(csv.DictReader(path.read_text("utf-8").splitlines()))
        assert rows, path.name
        cols = [c for c in rows[0] if c in ("source", "citation") or c.startswith("src_")]
        assert cols, f"{path.name}: no source column"
        unsourced = [i + 2 for i, r in enumerate(rows) if not any((r[c] or "").strip() for c in cols)]
        assert unsourced == [], f"{path.name}: rows without a source: {unsourced}"
