"""Text from a store or a file shown safely: control characters shown, not obeyed.

A label, device name or error text comes from whoever wrote the store (a shared store may come
from someone else). Printed raw, an ANSI escape sequence in it could rewrite the reader's
terminal; :func:`escape_controls` shows each control character as ``\\xNN`` instead.
"""

from __future__ import annotations

import re

#: C0 controls (tab and newline included: a label is one line), DEL, C1 controls, and the
#: Unicode bidirectional overrides that can make text read differently from what it is.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The same, newlines and tabs allowed (text laid out on several lines on purpose).
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _sub(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def escape_controls(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``);
    with ``keep_lines``, newlines and tabs are kept."""
    return (_CONTROLS_BUT_LINES if keep_lines else _CONTROLS).sub(_sub, text)


def safe_text(value: object) -> str:
    """A stored value as printable one-line text (``None`` -> ``-``)."""
    return "-" if value is None else escape_controls(str(value))
