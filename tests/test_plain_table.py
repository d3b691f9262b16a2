"""The plain-text table (cli/_plain_table.py) writes exactly what rich writes, or declines.

Random tables (cells of printable ASCII, words of any length, markup-like and emoji-like text
included) in both layouts at random widths: whenever :func:`render` gives text, it equals rich's
``Console.print(Table(...))`` to a file byte for byte; and for tables that fit it does give text.
"""

from __future__ import annotations

import io
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from rich import box
from rich.console import Console
from rich.table import Table

from inferlca.cli._plain_table import PlainTable, console_width, render, stream_kind

CELL = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=14)
WORDS = st.lists(st.text(alphabet="abcXYZ019:`()-;,./", min_size=1, max_size=12),
                 min_size=0, max_size=14).map(" ".join)


def rich_text(t: PlainTable, width: int, terminal: bool = False) -> str:
    table = Table(title=t.title or None, box=box.SIMPLE_HEAD if t.boxed else None,
                  pad_edge=False, collapse_padding=not t.boxed, show_edge=t.boxed)
    for h, j in zip(t.headers, t.justify, strict=True):
        table.add_column(h, justify="right" if j == "right" else "left", no_wrap=True)
    for r in t.rows:
        table.add_row(*r)
    out = io.StringIO()
    console = (Console(file=out, width=width, force_terminal=True, color_system="truecolor")
               if terminal else Console(file=out, width=width))
    console.print(table)
    return out.getvalue()


@st.composite
def tables(draw: st.DrawFn) -> PlainTable:
    n = draw(st.integers(1, 6))
    headers = draw(st.lists(CELL, min_size=n, max_size=n))
    justify = draw(st.lists(st.sampled_from(["left", "right"]), min_size=n, max_size=n))
    rows = draw(st.lists(st.lists(CELL, min_size=n, max_size=n), max_size=6))
    return PlainTable(draw(WORDS), headers, justify, rows, boxed=draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(tables(), st.integers(1, 140), st.booleans())
def test_plain_text_is_riches_text_or_none(t, width, terminal):
    text = render(t, width, styled=terminal)
    if text is not None:
        assert text == rich_text(t, width, terminal)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="abc-09.", max_size=8), min_size=3, max_size=3),
                max_size=5), st.booleans())
def test_a_table_that_fits_is_written_plain(rows, boxed):
    t = PlainTable("a title in words", ["id", "name", "W"], ["left", "left", "right"], rows,
                   boxed=boxed)
    text = render(t, 80)
    assert text is not None
    assert text == rich_text(t, 80)
    assert render(t, 80, styled=True) == rich_text(t, 80, terminal=True)
    assert len(text.splitlines()) >= 2 + len(rows) + (3 if boxed else 0)  # title, header, rows


def test_what_rich_would_change_is_declined():
    fits = PlainTable("t", ["a", "b"], ["left", "left"], [["x", "y"]])
    assert render(fits, 80) == rich_text(fits, 80) == " t \na b\nx y\n"  # title centred over the 3 columns
    bold, italic, reset = "\x1b[1m", "\x1b[3m", "\x1b[0m"
    assert render(fits, 80, styled=True) == (f"{italic} t {reset}\n{bold}a{reset}{bold} {reset}"
                                             f"{bold}b{reset}\nx y\n")
    for cell in ("[bold]x", ":smile:", "caf\u00e9", "tab\there"):  # markup, emoji, wide, tab
        t = PlainTable("t", ["a", "b"], ["left", "left"], [[cell, "y"]])
        assert render(t, 80) is None
    too_wide = PlainTable("t", ["a", "b"], ["left", "left"], [["x" * 50, "y" * 40]])
    assert render(too_wide, 80) is None  # rich would wrap or crop a column
    long_word = PlainTable("x" * 30, ["a", "b"], ["left", "left"], [["x", "y"]])
    assert render(long_word, 80) is None  # rich folds a title word longer than the table


def test_width_and_stream_follow_rich():
    assert console_width({"COLUMNS": "132"}) == 132
    assert console_width({"COLUMNS": "wide"}) == Console(file=io.StringIO(),
                                                         _environ={"COLUMNS": "wide"}).width
    for env, kind in (({}, "plain"), ({"FORCE_COLOR": "1"}, "styled"),
                      ({"FORCE_COLOR": ""}, "plain"), ({"TTY_COMPATIBLE": "1"}, "styled"),
                      ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, "plain"),
                      ({"FORCE_COLOR": "1", "TERM": "dumb"}, None)):
        out = io.StringIO()
        assert stream_kind(out, env) == kind, env
        if kind is not None:  # and rich agrees whether it writes styles
            console = Console(file=out, _environ=env)
            assert (console.color_system is not None) == (kind == "styled"), env
    r, w = os.pipe()
    with os.fdopen(w, "w", encoding="latin-1") as latin:
        assert stream_kind(latin, {}) is None  # rich would draw an ASCII box
    os.close(r)
