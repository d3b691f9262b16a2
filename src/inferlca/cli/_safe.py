"""Text from a store or a file printed safely: control characters shown, not obeyed.

A label, device name or error text comes from whoever wrote the store (a shared store may come
from someone else). Printed raw, an ANSI escape sequence in it could rewrite the reader's
terminal; :func:`escape_controls` shows each control character as ``\\xNN`` instead.
"""

from __future__ import annotations

import re

#: C0 controls (tab and newline included: a label is one line), DEL, C1 controls, and the
#: Unicode bidirectional overrides that can make text read differently from what it is.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``)."""
    def sub(m: re.Match[str]) -> str:
        c = ord(m.group(0))
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _CONTROLS.sub(sub, text)


def safe_text(value: object) -> str:
    """A stored value as printable one-line text (``None`` -> ``-``)."""
    return "-" if value is None else escape_controls(str(value))
