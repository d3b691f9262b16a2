"""A table written as plain text, exactly as rich writes it, without importing rich.

Rich takes about 30 ms to import and 75 ms to lay out the device catalog (101 rows); a table
whose cells all fit is simple to lay out by hand. :func:`render` gives the very text rich's
``Console.print(Table(...))`` writes, to a file or pipe or (``styled``: italic title, bold
header) to a terminal, for the two table styles the catalog commands use, or ``None`` whenever
rich would do something this module does not (wrap or crop a cell, fold a long word of the
title, parse markup, an emoji code or a control character); :func:`stream_kind` says None where
rich's output would differ otherwise (ASCII boxes for a stream not in UTF-8, a dumb terminal,
Windows, a notebook). The caller then prints with rich. ``tests/test_plain_table.py`` checks the text against rich's byte for byte.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: a word of a line and the spaces after it (as rich wraps text)
_WORD = re.compile(r"\s*\S+\s*")
#: rich's styles of a table on a terminal: the title italic, the header bold
_ITALIC, _BOLD, _RESET = "\x1b[3m", "\x1b[1m", "\x1b[0m"
#: what rich could read as an emoji code (``:smile:``)
_EMOJI = re.compile(r":\S*:")


@dataclass
class PlainTable:
    """What the table shows; ``boxed``: rich's SIMPLE_HEAD box with edges (the wide layout);
    otherwise no box, collapsed padding and no edge (the narrow layout). Both with
    ``pad_edge=False`` and every column ``no_wrap`` or fitting."""

    title: str
    headers: Sequence[str]
    justify: Sequence[str]  # "left" or "right" per column
    rows: Sequence[Sequence[str]] = field(default_factory=list)
    boxed: bool = False


def console_width(environ: Mapping[str, str] | None = None) -> int:
    """The width rich's console uses when writing to a file that is not a terminal: ``COLUMNS``
    when set to digits, else the size of the first terminal among stdin, stdout and stderr,
    else 80."""
    env = os.environ if environ is None else environ
    columns = env.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    width = 0
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd)[0]
        except (AttributeError, ValueError, OSError):
            continue
        break
    return width or 80


def stream_kind(stream: object = None, environ: Mapping[str, str] | None = None) -> str | None:
    """How rich writes to ``stream`` (default stdout): ``"plain"`` (a file or pipe: no styles),
    ``"styled"`` (a terminal: bold and italic escapes), or None where this module does not
    follow rich (Windows, a notebook, a dumb terminal, a stream not in UTF-8)."""
    env = os.environ if environ is None else environ
    out = sys.stdout if stream is None else stream
    if sys.platform.startswith("win") or "ipykernel" in sys.modules:
        return None
    if not (getattr(out, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None  # rich would draw an ASCII box
    compatible = env.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        terminal = compatible == "1"
    elif env.get("FORCE_COLOR") is not None:
        terminal = env.get("FORCE_COLOR") != ""
    else:
        isatty = getattr(out, "isatty", None)
        try:
            terminal = isatty is not None and bool(isatty())
        except ValueError:
            terminal = False  # a closed file: no terminal for rich either
    if not terminal:
        return "plain"
    if env.get("TERM", "").lower() in ("dumb", "unknown"):
        return None  # rich fixes the width at 80 there
    return "styled"


def _plain_cell(text: str) -> bool:
    # no markup ("[b]"), no emoji code (":smile:"), printable ASCII only (one cell per char)
    # nor spaces at either end (rich strips some of them, depending on the justification)
    return (text.isascii() and text.isprintable() and "[" not in text
            and _EMOJI.search(text) is None and text == text.strip())


def _title_lines(title: str, width: int) -> list[str] | None:
    """The title wrapped at word boundaries to ``width`` and centred, as rich does."""
    if not _plain_cell(title) or not title:
        return None
    breaks, offset = [], 0
    for m in _WORD.finditer(title):
        word = m.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            return None  # rich folds the word: not done here
        else:
            if offset and m.start():
                breaks.append(m.start())
            offset = len(word)
    lines = []
    for a, b in zip([0, *breaks], [*breaks, len(title)]):
        line = title[a:b].rstrip()
        left = (width - len(line)) // 2
        lines.append(" " * left + line + " " * (width - left - len(line)))
    return lines


def render(table: PlainTable, width: int, styled: bool = False) -> str | None:
    """The text rich writes for ``table`` at console ``width``, or None (see the module);
    ``styled``: as rich writes it to a terminal (:func:`stream_kind`)."""
    n = len(table.headers)
    if n == 0 or width < 1 or any(len(r) != n for r in table.rows):
        return None
    cells = [list(table.headers), *[list(r) for r in table.rows]]
    if not all(_plain_cell(c) for row in cells for c in row):
        return None
    if styled and not all(table.headers):
        return None  # rich leaves an empty header cell unstyled: not followed here
    pads = []
    for i in range(n):
        left, right = 1, 1
        if not table.boxed and i > 0:  # collapse_padding
            left = 0
        if i == 0:  # pad_edge=False
            left = 0
        if i == n - 1:
            right = 0
        pads.append((left, right))
    widths = [max(len(row[i]) for row in cells) + pads[i][0] + pads[i][1] or 1
              for i in range(n)]
    extra = (2 + n - 1) if table.boxed else 0
    if sum(widths) > width - extra:
        return None  # rich would wrap, crop or collapse columns
    table_width = sum(widths) + extra
    title = _title_lines(table.title, table_width) if table.title else []
    if title is None:
        return None
    out = [_ITALIC + t + _RESET for t in title] if styled else list(title)

    def line(row: Sequence[str], bold: bool = False) -> str:
        parts = []
        for text, w, (left, right), just in zip(row, widths, pads, table.justify, strict=True):
            inner = w - left - right
            body = text.rjust(inner) if just == "right" else text.ljust(inner)
            # rich styles the padding and the text of a cell as separate pieces
            pieces = (" " * left, body, " " * right)
            parts.append("".join(_BOLD + x + _RESET if bold and x else x for x in pieces))
        return (" " + " ".join(parts) + " ") if table.boxed else "".join(parts)

    if table.boxed:
        out.append(" " * table_width)
    out.append(line(cells[0], bold=styled))
    if table.boxed:
        out.append(" " + "─".join("─" * w for w in widths) + " ")
    out.extend(line(r) for r in cells[1:])
    if table.boxed:
        out.append(" " * table_width)
    return "".join(s + "\n" for s in out)
