"""Traffic files: several request classes at once on one workload (``inferlca run --traffic``).

A traffic file is YAML::

    duration_s: 60            # how long classes without a request count send (optional)
    seed: 7                   # optional; default: the run's seed
    classes:
      chat:                   # a class name (letters, digits, - and _)
        kind: interactive     # interactive | poisson | offline
        users: 20
        think_time_s: 5
        prompt_len: 16..64    # synthetic prompt length (or prompts: FILE)
        max_new_tokens: 64
      api:
        kind: poisson
        rate_qps: 2
        daily_profile: [0.3, 0.2, ...]   # 24 hourly multipliers, compressed into duration_s
      batch:
        kind: offline
        requests: 500
        start_s: 10

Every key is checked strictly: an unknown key, a wrong type or a bad value is refused with the
file, the line (from the YAML node marks) and what is expected (:class:`~inferlca.errors.
InputFileError`, exit code 2). A traffic given as a mapping (a stored spec's
``extra["traffic"]``, a campaign cell) goes through the same checks, the key path in place of the
line.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import InputFileError, InvalidValueError

KINDS = ("interactive", "poisson", "offline")
HOURS = 24
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_TOP_KEYS = {"classes": "a mapping of class name -> class", "duration_s": "seconds > 0",
             "seed": "an integer >= 0"}
_COMMON = ("kind", "prompt_len", "prompts", "max_new_tokens", "requests", "duration_s", "start_s")
_BY_KIND = {"interactive": ("users", "think_time_s"), "poisson": ("rate_qps", "daily_profile"),
            "offline": ()}
MAX_REQUESTS = 10_000_000
MAX_SECONDS = 7 * 86_400.0


@dataclass
class TrafficClass:
    """One request class (see the module docstring for the keys)."""

    name: str
    kind: str
    prompt_len: str | None = None
    prompts: str | None = None
    max_new_tokens: int | None = None
    requests: int | None = None
    duration_s: float | None = None
    start_s: float = 0.0
    users: int | None = None
    think_time_s: float | None = None
    rate_qps: float | None = None
    daily_profile: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class TrafficPlan:
    """Checked traffic: the classes in file order, the default duration and the seed."""

    classes: list[TrafficClass]
    duration_s: float | None = None
    seed: int | None = None
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def to_dict(self) -> dict[str, Any]:
        """The mapping :func:`traffic_plan` reads back (what the spec stores)."""
        d: dict[str, Any] = {"classes": {c.name: {k: v for k, v in c.to_dict().items()
                                                   if k != "name"} for c in self.classes}}
        if self.duration_s is not None:
            d["duration_s"] = self.duration_s
        if self.seed is not None:
            d["seed"] = self.seed
        if self.source is not None:
            d["source"] = self.source
        return d

    def class_duration_s(self, c: TrafficClass) -> float | None:
        return c.duration_s if c.duration_s is not None else self.duration_s


class _Lines:
    """Where each key path of the document starts in the file (1-based line), when known."""

    def __init__(self, path: str | None, lines: dict[tuple[Any, ...], int] | None = None) -> None:
        self.path = path
        self.lines = lines if lines is not None else {}

    def fail(self, where: tuple[Any, ...], message: str) -> InvalidValueError:
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in where)
        key = key.replace(".[", "[")
        text = f"{key}: {message}" if key else message
        if self.path is None:
            return InvalidValueError(f"traffic: {text}", param="traffic")
        line = None
        for n in range(len(where), -1, -1):  # the key itself, else its closest parent
            line = self.lines.get(tuple(where[:n]))
            if line is not None:
                break
        return InputFileError(self.path, text, line)  # type: ignore[return-value]


def _to_python(node: Any, where: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
               check: _Lines) -> Any:
    """A composed YAML node as plain Python, recording each key path's line."""
    import yaml

    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k_node, v_node in node.value:
            key = yaml.safe_load(yaml.serialize(k_node)) if not isinstance(
                k_node, yaml.ScalarNode) else _scalar(k_node)
            if not isinstance(key, str):
                lines[where + (str(key),)] = k_node.start_mark.line + 1
                raise check.fail((*where, str(key)), f"keys must be text, got {key!r}")
            if key in out:
                lines[where + (key,)] = k_node.start_mark.line + 1
                raise check.fail((*where, key), "given twice")
            out[key] = _to_python(v_node, (*where, key), lines, check)
            lines[where + (key,)] = k_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*where, i), lines, check) for i, v in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Any) -> Any:
    import yaml

    return yaml.safe_load(yaml.serialize(node))


def load_traffic_file(path: str | Path) -> TrafficPlan:
    """Read and check a traffic file (errors name the file and the line; exit code 2)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(path), "the traffic file does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"cannot be read as UTF-8 text ({type(exc).__name__})") \
            from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise InputFileError(str(path), f"not valid YAML: {problem}",
                             mark.line + 1 if mark is not None else None) from None
    if node is None:
        raise InputFileError(str(path), "the traffic file is empty: it needs a 'classes' mapping")
    lines: dict[tuple[Any, ...], int] = {}
    check = _Lines(str(path), lines)
    doc = _to_python(node, (), lines, check)
    return _plan(doc, check, base=p.parent, source=str(path))


def traffic_plan(doc: Any, source: str | None = None) -> TrafficPlan:
    """Check a traffic mapping (a stored spec's ``extra["traffic"]``); errors name the key path."""
    if isinstance(doc, TrafficPlan):
        return doc
    if isinstance(doc, dict) and source is None:
        source = doc.get("source") if isinstance(doc.get("source"), str) else None
    d = dict(doc) if isinstance(doc, dict) else doc
    if isinstance(d, dict):
        d.pop("source", None)
    return _plan(d, _Lines(None), base=None, source=source)


# ---- checks ------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _unknown(d: dict[str, Any], known: tuple[str, ...] | list[str], where: tuple[Any, ...],
             check: _Lines, what: str) -> None:
    for k in d:
        if k not in known:
            raise check.fail((*where, k), f"unknown key in {what} (expected one of: "
                                          f"{', '.join(known)})")


def _plan(doc: Any, check: _Lines, base: Path | None, source: str | None) -> TrafficPlan:
    if not isinstance(doc, dict):
        raise check.fail((), f"a traffic file is a mapping with a 'classes' key, got "
                             f"{type(doc).__name__}")
    _unknown(doc, list(_TOP_KEYS), (), check, "the traffic file")
    duration = doc.get("duration_s")
    if duration is not None:
        duration = _seconds(duration, ("duration_s",), check, positive=True)
    seed = doc.get("seed")
    if seed is not None and (not _is_int(seed) or seed < 0 or seed > 2**63 - 1):
        raise check.fail(("seed",), f"must be an integer >= 0, got {seed!r}")
    raw = doc.get("classes")
    if not isinstance(raw, dict) or not raw:
        raise check.fail(("classes",) if "classes" in doc else (),
                         "'classes' must be a non-empty mapping of class name -> class "
                         f"({', '.join(KINDS)})")
    classes = [_class(name, c, duration, check, base) for name, c in raw.items()]
    return TrafficPlan(classes, duration, seed, source)


def _seconds(v: Any, where: tuple[Any, ...], check: _Lines, positive: bool) -> float:
    if not _is_num(v) or (v <= 0 if positive else v < 0) or v > MAX_SECONDS:
        raise check.fail(where, f"must be a number of seconds {'> 0' if positive else '>= 0'} "
                                f"(at most {MAX_SECONDS:,.0f}), got {v!r}")
    return float(v)


def _count(v: Any, where: tuple[Any, ...], check: _Lines, top: int = MAX_REQUESTS) -> int:
    if not _is_int(v) or v < 1 or v > top:
        raise check.fail(where, f"must be an integer >= 1 (at most {top:,}), got {v!r}")
    return int(v)


def _class(name: str, raw: Any, top_duration: float | None, check: _Lines,
           base: Path | None) -> TrafficClass:
    w: tuple[Any, ...] = ("classes", name)
    if not _NAME.match(name):
        raise check.fail(w, "a class name is 1 to 40 letters, digits, '-' or '_' (starting with "
                            "a letter or digit)")
    if not isinstance(raw, dict):
        raise check.fail(w, f"a class is a mapping with a 'kind' ({', '.join(KINDS)}), got "
                            f"{raw!r}")
    kind = raw.get("kind")
    if "kind" not in raw:
        raise check.fail(w, f"'kind' is missing: give one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise check.fail((*w, "kind"), f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    _unknown(raw, (*_COMMON, *_BY_KIND[kind]), w, check, f"a {kind} class")
    c = TrafficClass(name=name, kind=kind)
    if "prompt_len" in raw:
        c.prompt_len = _prompt_len(raw["prompt_len"], (*w, "prompt_len"), check)
    if "prompts" in raw:
        v = raw["prompts"]
        if not isinstance(v, str) or not v.strip():
            raise check.fail((*w, "prompts"), f"must be the path of a prompt file, got {v!r}")
        p = Path(v)
        if base is not None and not p.is_absolute():
            p = base / p
        if not p.is_file():
            raise check.fail((*w, "prompts"), f"the prompt file {str(p)!r} does not exist")
        c.prompts = str(p)
        if c.prompt_len is not None:
            raise check.fail((*w, "prompts"), "give either prompts or prompt_len, not both")
    if "max_new_tokens" in raw:
        c.max_new_tokens = _count(raw["max_new_tokens"], (*w, "max_new_tokens"), check, 1_000_000)
    if "requests" in raw:
        c.requests = _count(raw["requests"], (*w, "requests"), check)
    if "duration_s" in raw:
        c.duration_s = _seconds(raw["duration_s"], (*w, "duration_s"), check, positive=True)
    if "start_s" in raw:
        c.start_s = _seconds(raw["start_s"], (*w, "start_s"), check, positive=False)
    duration = c.duration_s if c.duration_s is not None else top_duration
    if kind == "offline":
        if c.requests is None:
            raise check.fail(w, "an offline class needs 'requests' (the prompts issued at once)")
        if c.duration_s is not None:
            raise check.fail((*w, "duration_s"), "an offline class sends its requests at once: "
                                                 "give 'requests', not 'duration_s'")
    elif c.requests is None and duration is None:
        raise check.fail(w, f"a {kind} class needs 'requests' or 'duration_s' (here or at the "
                            "top of the file) to know when to stop")
    if kind == "interactive":
        if "users" not in raw:
            raise check.fail(w, "an interactive class needs 'users' (an integer >= 1)")
        c.users = _count(raw["users"], (*w, "users"), check, 100_000)
        if "think_time_s" in raw:
            c.think_time_s = _seconds(raw["think_time_s"], (*w, "think_time_s"), check,
                                      positive=False)
    if kind == "poisson":
        if "rate_qps" not in raw:
            raise check.fail(w, "a poisson class needs 'rate_qps' (requests per second > 0)")
        v = raw["rate_qps"]
        if not _is_num(v) or v <= 0 or v > 1e6:
            raise check.fail((*w, "rate_qps"), f"must be requests per second > 0 (at most "
                                               f"1,000,000), got {v!r}")
        c.rate_qps = float(v)
        if "daily_profile" in raw:
            c.daily_profile = _profile(raw["daily_profile"], (*w, "daily_profile"), check)
            if duration is None:
                raise check.fail((*w, "daily_profile"), "a daily profile is compressed into the "
                                                        "class's duration: give 'duration_s'")
    return c


def _prompt_len(v: Any, where: tuple[Any, ...], check: _Lines) -> str:
    s = str(v).strip() if _is_int(v) or isinstance(v, str) else ""
    m = re.fullmatch(r"(\d+)(?:\.\.(\d+))?", s)
    if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < int(m.group(1))):
        raise check.fail(where, f"must be a length N or LOW..HIGH (integers >= 1, LOW <= HIGH), "
                                f"got {v!r}")
    return s


def _profile(v: Any, where: tuple[Any, ...], check: _Lines) -> list[float]:
    if not isinstance(v, list) or len(v) != HOURS:
        n = len(v) if isinstance(v, list) else type(v).__name__
        raise check.fail(where, f"must be a list of {HOURS} hourly multipliers (>= 0), got {n}"
                                + (" values" if isinstance(v, list) else ""))
    for i, x in enumerate(v):
        if not _is_num(x) or x < 0:
            raise check.fail((*where, i), f"hour {i}: a multiplier must be a number >= 0, got "
                                          f"{x!r}")
    if not any(x > 0 for x in v):
        raise check.fail(where, "every multiplier is 0: the class would send nothing")
    return [float(x) for x in v]
