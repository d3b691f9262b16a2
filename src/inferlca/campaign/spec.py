"""The campaign file: a grid of run specifications described once in YAML.

A campaign file names the axes of a study (workloads, backends, scenarios, query counts,
repetitions, devices or device classes, regions), defaults for every other run setting, and
per-cell overrides. :func:`load_campaign` validates it and expands it into :class:`Cell` objects,
each holding a complete :class:`~inferlca.spec.RunSpec` and a stable cell id (a hash of the spec),
so a store can tell which cells are already done whatever order or machine ran them.

The file format (every key optional except ``grid``)::

    name: study-grid            # default: the file name without its extension
    description: free text
    order: sequential           # or "random" (spreads thermal and clock drift over the grid)
    seed: 0                     # seed of the random order
    cooldown_s: 30              # idle seconds between repetitions and between cells on a device
    defaults:                   # any RunSpec setting, applied to every cell
      period_ms: 10
    grid:                       # the axes; a scalar is a one-value axis
      workloads: [bert-large-squad]
      backends: [torch]
      scenarios: [single-stream]
      queries: [16, 32, 64, 128, 256]
      repetitions: 10
      devices: [h100-sxm, jetson-agx-orin-64gb]   # catalog names; "local" = the machine that runs it
      device_classes: [edge]                      # every catalog device of that class
      regions: [FR]
    overrides:                  # applied in order to the cells they match
      - where: {device: jetson-agx-orin-64gb}
        set: {period_ms: 50}

Any other RunSpec field may also be a grid axis under its own name (e.g. ``precision``), and so
may ``max_concurrency`` (``openai-endpoint``; stored in ``extra.endpoint``, see :mod:`.axes`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from inferlca.campaign.axes import NESTED, nest_settings, setting_value
from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, UsageError
from inferlca.spec import RunSpec

#: Top-level keys of a campaign file.
TOP_KEYS = ("name", "description", "order", "seed", "cooldown_s", "defaults", "grid", "overrides")
ORDERS = ("sequential", "random")
#: Plural grid-axis names and the RunSpec field each one sets.
AXIS_ALIASES = {
    "workloads": "workload",
    "backends": "backend",
    "scenarios": "scenario",
    "queries": "queries",
    "query_counts": "queries",
    "repetitions": "repetitions",
    "devices": "device",
    "regions": "region",
}
DEVICE_CLASSES = ("edge", "desktop", "gaming", "datacenter")
#: The study called datacenter devices "large scale".
DEVICE_CLASS_ALIASES = {"large-scale": "datacenter", "large_scale": "datacenter"}
#: Device names meaning "whatever machine runs the cell" (RunSpec.device = None: auto-detect).
LOCAL_DEVICE_NAMES = ("local", "auto")
#: Fields that do not define what a cell measures, left out of its id.
_ID_EXCLUDED = ("label",)
_EXTRA_CELL_KEY = "campaign_cell"
_EXTRA_CAMPAIGN_KEY = "campaign"

RUNSPEC_FIELDS = tuple(f.name for f in fields(RunSpec))
#: Keys of defaults, overrides and the grid: RunSpec fields and nested settings (campaign.axes).
SETTING_KEYS = RUNSPEC_FIELDS + tuple(NESTED)

#: ``device name -> canonical catalog id`` (raises UnknownNameError for an unknown name).
DeviceResolver = Callable[[str], str]
#: ``device class -> catalog ids of that class``.
ClassExpander = Callable[[str], list[str]]


@dataclass(frozen=True)
class Cell:
    """One point of a campaign grid: a complete run specification and its stable id.

    Attributes:
        cell_id: 12 hex digits of the SHA-256 of the canonical JSON of the spec (label excluded).
        spec: the run specification; ``spec.extra["campaign_cell"]`` holds ``cell_id`` and
            ``spec.extra["campaign"]`` the campaign name, so a stored run names its cell.
        index: position in the campaign's execution order (0-based).
    """

    cell_id: str
    spec: RunSpec
    index: int
    #: Other run settings the grid varies (e.g. ``max_new_tokens``), shown in the label.
    shown: tuple[str, ...] = ()
    #: Every setting the grid varies, those of the label included (``campaign status``).
    varied: tuple[str, ...] = ()

    @property
    def device(self) -> str | None:
        """Catalog id of the device this cell needs, or None for "the machine that runs it"."""
        return self.spec.device

    def describe(self) -> str:
        """A short human label: workload, scenario, queries, device, region."""
        s = self.spec
        parts = [s.workload, s.scenario, load_label(s), f"x{s.repetitions}",
                 s.device or "local", s.region]
        if s.backend != "auto":
            parts.insert(1, s.backend)
        # Settings a grid often varies besides the axes above, so that two cells never read alike.
        if s.preset is not None:
            parts.insert(1, f"preset={s.preset}")
        if s.precision != "fp32":
            parts.append(s.precision)
        parts += [f"{name}={setting_value(s, name)}" for name in self.shown
                  if not (name == "users" and s.scenario == "interactive")]  # "N users" above
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"cell_id": self.cell_id, "index": self.index, "label": self.describe(),
                "spec": self.spec.to_dict()}


@dataclass
class Campaign:
    """A validated campaign: its settings and its cells in execution order."""

    name: str
    cells: list[Cell]
    description: str = ""
    order: str = "sequential"
    seed: int = 0
    cooldown_s: float = 0.0
    path: Path | None = None
    axes: dict[str, list[Any]] = field(default_factory=dict)

    def cell(self, cell_id_prefix: str) -> Cell:
        """The cell whose id starts with ``cell_id_prefix``."""
        hits = [c for c in self.cells if c.cell_id.startswith(cell_id_prefix)]
        if len(hits) != 1:
            raise UnknownNameError("cell", cell_id_prefix, [c.cell_id for c in self.cells],
                                   hint="(ambiguous)" if hits else "")
        return hits[0]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "order": self.order,
                "seed": self.seed, "cooldown_s": self.cooldown_s, "axes": self.axes,
                "cells": [c.to_dict() for c in self.cells]}


#: RunSpec fields added after campaign ids existed, with their defaults: a field at its default
#: is left out of the hash, so a campaign started before the field existed keeps its cell ids.
_LATER_FIELD_DEFAULTS: dict[str, Any] = {
    "sampler": "process",   # issue 16
    "scope": "chip",        # issue 14
    "gpus": None,           # issue 17
    "grid_file": None,      # issue 15 (grid in time)
    "grid_unit": None,
    "grid_tz": None,
    "grid_signal": "average",
    "grid_year": None,      # run --grid-year
}


def cell_id_of(spec: RunSpec) -> str:
    """Stable id of a cell: a hash of its spec, without the label and the cell id itself.

    The JSON is canonical (sorted keys, no spaces), so the id does not depend on the order of
    keys in the campaign file or on the Python version. LLM options are hashed inside ``extra``,
    where specs held them before ``RunSpec.llm`` existed, so a campaign started then keeps its ids.
    """
    d = spec.to_dict()
    for k in _ID_EXCLUDED:
        d.pop(k, None)
    for key, default in _LATER_FIELD_DEFAULTS.items():  # cells defined before keep their id
        if key in d and d[key] == default:
            d.pop(key)
    extra = dict(d.get("extra") or {})
    extra.pop(_EXTRA_CELL_KEY, None)
    extra.update(d.pop("llm", None) or {})
    d["extra"] = extra
    text = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def cell_id_from_spec_dict(spec: dict[str, Any] | None) -> str | None:
    """The cell id a stored run's spec carries (``extra["campaign_cell"]``), if any."""
    if not isinstance(spec, dict):
        return None
    extra = spec.get("extra")
    if isinstance(extra, dict):
        v = extra.get(_EXTRA_CELL_KEY)
        return str(v) if v is not None else None
    return None


# ---------------------------------------------------------------------------------------------
# Name resolution (catalog and workload registry live in lower layers; both injectable)


def catalog_resolvers() -> tuple[DeviceResolver, ClassExpander]:
    """Device name and device class resolvers backed by the hardware catalog."""
    from inferlca.hardware.catalog import get_catalog

    catalog = get_catalog()

    def resolve(name: str) -> str:
        return str(catalog.get(name).id)

    def expand(category: str) -> list[str]:
        return [str(d.id) for d in catalog.devices(category=category)]

    return resolve, expand


def check_region(region: str) -> None:
    """Raise UnknownNameError (with suggestions) when the grid-intensity data lacks ``region``."""
    from inferlca.lca.grid import get_region

    get_region(region)


def known_workloads() -> list[str]:
    """Names of the registered workloads (from :mod:`inferlca.workloads.registry`)."""
    from inferlca.workloads import registry

    for attr in ("names", "list_workloads", "available"):
        fn = getattr(registry, attr, None)
        if callable(fn):
            return [str(n) for n in fn()]
    for attr in ("WORKLOADS", "REGISTRY", "_REGISTRY"):
        table = getattr(registry, attr, None)
        if isinstance(table, dict):
            return [str(n) for n in table]
    raise UsageError("the workload registry lists no workloads")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Loading and validation


def _yaml_loader() -> Any:
    """A safe YAML loader where only ``true``/``false`` are booleans (as in YAML 1.2).

    PyYAML follows YAML 1.1, where ``NO`` (Norway), ``ON`` or ``y`` are booleans: a region list
    ``[FR, NO]`` would silently become ``["FR", False]``.
    """
    import re

    import yaml

    class CampaignLoader(yaml.SafeLoader):
        pass

    resolvers = {k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
                 for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    CampaignLoader.yaml_implicit_resolvers = resolvers
    CampaignLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))
    return CampaignLoader


#: RunSpec fields holding text; numbers given there are turned into text ("1.5" for a PUE).
_TEXT_FIELDS = tuple(f.name for f in fields(RunSpec) if str(f.type).startswith("str"))
_INT_FIELDS = tuple(f.name for f in fields(RunSpec) if str(f.type).startswith("int"))
_FLOAT_FIELDS = tuple(f.name for f in fields(RunSpec) if str(f.type).startswith("float"))
_BOOL_FIELDS = tuple(f.name for f in fields(RunSpec) if str(f.type) == "bool")


def _coerce_setting(name: str, value: Any) -> Any:
    """Check a run setting's type as read from YAML; numbers become text in text fields."""
    if value is None:
        return None
    if name == "gpus":
        return _coerce_gpus(value)
    if name in _TEXT_FIELDS:
        if isinstance(value, bool):
            raise InvalidValueError(f"{name} must be text, got {value!r}; write it in quotes")
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            raise InvalidValueError(f"{name} must be text, got {value!r}")
    elif name in _INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidValueError(f"{name} must be an integer, got {value!r}")
    elif name in _FLOAT_FIELDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidValueError(f"{name} must be a number, got {value!r}")
    elif name in _BOOL_FIELDS and not isinstance(value, bool):
        raise InvalidValueError(f"{name} must be true or false, got {value!r}")
    return value


def _coerce_gpus(value: Any) -> str | None:
    """``gpus`` as ``"0,2"``, ``0`` or ``[0, 2]`` (in defaults or overrides; in the grid each value
    of the axis is one such selection) -> the canonical text ``"0,2"``, checked."""
    from inferlca.meters.nvml import parse_gpus

    if isinstance(value, bool):
        raise InvalidValueError(f"gpus takes GPU indices like \"0,2\" or [0, 2], got {value!r}")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, list) and not all(isinstance(v, int) and not isinstance(v, bool)
                                           for v in value):
        raise InvalidValueError(f"gpus takes GPU indices like \"0,2\" or [0, 2], got {value!r}")
    try:
        picked = parse_gpus(value)
    except UsageError:
        raise InvalidValueError(f"gpus takes distinct GPU indices >= 0 like \"0,2\" or [0, 2], "
                                f"got {value!r}") from None
    return None if picked is None else ",".join(str(i) for i in picked)


def _check_gpus_meter(settings: dict[str, Any]) -> None:
    """``gpus`` selects NVIDIA GPUs: with a named meter it needs nvml among the meters."""
    meter = str(settings.get("meter") or RunSpec.meter)
    if settings.get("gpus") is not None and meter != "auto" and "nvml" not in {
            m.strip() for m in meter.split("+")}:
        raise InvalidValueError(
            f"gpus {settings['gpus']!r} selects NVIDIA GPUs and goes with the nvml meter, but the "
            f"cell's meter is {meter!r}; use meter: nvml (or nvml+rapl, auto) or drop gpus")


def load_label(spec: RunSpec) -> str:
    """What a cell asks of the system under test, in a few characters: ``q16`` (queries), ``2
    users`` (interactive), ``traffic chat+api`` (mixed: the classes of its traffic file)."""
    if spec.scenario == "mixed":
        classes = (spec.extra.get("traffic") or {}).get("classes") or {}
        names = list(classes) if isinstance(classes, dict) else []
        return "traffic " + ("+".join(names) if names else "file")
    if spec.scenario == "interactive":
        return f"{spec.users} user" + ("s" if spec.users != 1 else "")
    return f"q{spec.queries}"


def _unknown(kind: str, name: str, known: Sequence[str]) -> UnknownNameError:
    """UnknownNameError that also lists the accepted names when there are few of them."""
    hint = f"(accepted: {', '.join(known)})" if len(known) <= 10 else ""
    return UnknownNameError(kind, name, known, hint=hint)


def _check_keys(where: str, given: Iterable[str], allowed: Sequence[str]) -> None:
    for k in given:
        if k not in allowed:
            raise _unknown(f"key in {where}", str(k), allowed)


def _as_list(where: str, value: Any) -> list[Any]:
    if isinstance(value, list):
        if not value:
            raise InvalidValueError(f"{where} is an empty list: the grid would have no cells")
        return value
    if isinstance(value, (dict, set, tuple)):
        raise InvalidValueError(f"{where} must be a value or a list of values, got {type(value).__name__}")
    return [value]


def _check_run_settings(where: str, d: Any) -> dict[str, Any]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise InvalidValueError(f"{where} must be a mapping of run settings, got {type(d).__name__}")
    _check_keys(where, d, SETTING_KEYS)
    return dict(d)


def _number(where: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < minimum:
        raise InvalidValueError(f"{where} must be a finite number >= {minimum:g}, got {value!r}")
    return float(value)


#: The most cells a campaign may have: a grid over this is refused (with its count) before any
#: cell is built, so that a typo in an axis cannot make `campaign plan` run for hours.
MAX_CELLS = 10_000
#: The largest campaign file read (bytes); a campaign is a few hundred lines of YAML.
MAX_FILE_BYTES = 1024 * 1024


def grid_size(axes: dict[str, list[Any]]) -> int:
    """The number of grid points (the product of the axis lengths), without building them."""
    n = 1
    for values in axes.values():
        n *= len(values)
    return n


def load_campaign(path: str | Path, *, resolve_device: DeviceResolver | None = None,
                  expand_class: ClassExpander | None = None,
                  workloads: Iterable[str] | None = None) -> Campaign:
    """Read, validate and expand a campaign file.

    Args:
        path: the YAML file.
        resolve_device: device name -> catalog id; default: the hardware catalog.
        expand_class: device class -> catalog ids; default: the hardware catalog.
        workloads: the known workload names; default: the workload registry.

    Raises:
        InputFileError: the file is missing or not valid YAML.
        UnknownNameError: an unknown key (with a suggestion), device, class or workload.
        InvalidValueError: an empty grid, a bad value or a cell that is not a valid run.
    """
    import stat

    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device or pipe)"
            raise InputFileError(p, f"is {kind}; give a campaign YAML file")
        if st.st_size > MAX_FILE_BYTES:
            raise InputFileError(p, f"is {st.st_size:,} bytes: a campaign file is at most "
                                    f"{MAX_FILE_BYTES:,} bytes; is it the right file?")
        with open(p, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise InputFileError(p, f"is over {MAX_FILE_BYTES:,} bytes; give a campaign YAML file")
        if b"\x00" in raw:
            raise InputFileError(p, "is a binary file, not campaign YAML")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise InputFileError(p, "no such campaign file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read: {exc}") from None
    return parse_campaign(text, source=p, resolve_device=resolve_device, expand_class=expand_class,
                          workloads=workloads)


def parse_campaign(text: str, *, source: str | Path = "<campaign>",
                   resolve_device: DeviceResolver | None = None,
                   expand_class: ClassExpander | None = None,
                   workloads: Iterable[str] | None = None) -> Campaign:
    """Validate and expand campaign YAML text (see :func:`load_campaign`)."""
    import yaml

    try:
        doc = yaml.load(text, Loader=_yaml_loader())
    except RecursionError:
        raise InputFileError(source, "nested too deeply to be a campaign (thousands of levels); "
                                     "a campaign file is a mapping a few levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputFileError(source, f"not valid YAML: {problem}", line=line) from None
    if not isinstance(doc, dict):
        raise InputFileError(source, "a campaign file must be a YAML mapping with at least a 'grid'")
    try:
        return _build(doc, source, resolve_device, expand_class, workloads)
    except UsageError as exc:
        if isinstance(exc, InputFileError):
            raise
        # Name the file once, keep the class (exit code 2) and the suggestions.
        exc.args = (f"{source}: {exc.args[0] if exc.args else exc}",)
        raise


def _build(doc: dict[str, Any], source: str | Path, resolve_device: DeviceResolver | None,
           expand_class: ClassExpander | None, workloads: Iterable[str] | None) -> Campaign:
    _check_keys("campaign file", doc, TOP_KEYS)
    if "grid" not in doc or doc["grid"] is None:
        raise InvalidValueError("the campaign has no 'grid': give at least one axis, e.g. "
                                "grid: {workloads: [\"null\"], queries: [16]}")
    name = doc.get("name")
    if name is None:
        name = Path(str(source)).stem if str(source) != "<campaign>" else "campaign"
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError(f"name must be a non-empty string, got {name!r}")
    order = doc.get("order", "sequential")
    if order not in ORDERS:
        raise _unknown("order", str(order), ORDERS)
    seed = doc.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidValueError(f"seed must be an integer, got {seed!r}")
    cooldown_s = _number("cooldown_s", doc.get("cooldown_s", 0.0))
    defaults = _check_run_settings("defaults", doc.get("defaults"))

    grid = doc["grid"]
    if not isinstance(grid, dict):
        raise InvalidValueError(f"grid must be a mapping of axes, got {type(grid).__name__}")
    if not grid:
        raise InvalidValueError("the grid is empty: give at least one axis, e.g. queries: [16, 32]")
    allowed_axes = sorted(set(AXIS_ALIASES) | {"device_classes"} | set(SETTING_KEYS) - {"extra", "label"})
    _check_keys("grid", grid, allowed_axes)

    need_catalog = any(k in grid for k in ("devices", "device", "device_classes")) \
        or "device" in defaults or _overrides_name_devices(doc.get("overrides"))
    if need_catalog and (resolve_device is None or expand_class is None):
        default_resolve, default_expand = catalog_resolvers()
        resolve_device = resolve_device or default_resolve
        expand_class = expand_class or default_expand

    axes: dict[str, list[Any]] = {}
    for key, value in grid.items():
        if key == "device_classes":
            continue
        target = str(AXIS_ALIASES.get(key, key))
        if target in axes:
            raise InvalidValueError(f"grid axis {target!r} is given twice ({key!r} and another name)")
        axes[target] = _as_list(f"grid.{key}", value)

    # Devices: explicit names and/or classes, resolved to catalog ids, de-duplicated in order.
    if "device_classes" in grid or "device" in axes:
        devices: list[str | None] = []
        for name_ in axes.get("device", []):
            devices.append(_resolve_device_name(name_, resolve_device))
        for cls in _as_list("grid.device_classes", grid["device_classes"]) if "device_classes" in grid else []:
            devices.extend(_expand_device_class(cls, expand_class))
        axes["device"] = list(dict.fromkeys(devices))  # de-duplicated, first occurrence kept
        if not axes["device"]:
            raise InvalidValueError("the device classes in the grid match no catalog device")
    if "device" in defaults:
        defaults["device"] = _resolve_device_name(defaults["device"], resolve_device)

    known = list(workloads) if workloads is not None else known_workloads()

    overrides = _parse_overrides(doc.get("overrides"), resolve_device)

    names = list(axes)
    size = grid_size(axes)
    if size > MAX_CELLS:
        shown_axes = ", ".join(f"{n} x{len(axes[n])}" for n in names)
        raise InvalidValueError(
            f"the grid has {size:,} cells ({shown_axes}), over the limit of {MAX_CELLS:,}: "
            f"split it into several campaign files, or shorten its longest axes")
    specs: list[RunSpec] = []
    seen_ids: set[str] = set()
    regions_ok: set[str] = set()
    for combo in itertools.product(*(axes[n] for n in names)):
        settings = dict(defaults)
        settings.update(zip(names, combo))
        for where, patch in overrides:
            if all(_matches(settings.get(k, getattr(RunSpec, k, None)), v) for k, v in where.items()):
                settings.update(patch)
        settings.setdefault("cooldown_s", cooldown_s)
        _check_workload(settings.get("workload", RunSpec.workload), known)
        try:
            settings = nest_settings(settings, settings.get("workload", RunSpec.workload))
        except UsageError as exc:
            exc.args = (f"cell {_short(settings, names)}: {exc}",)
            raise
        if "meter" in settings:
            settings["meter"] = _check_meter(settings["meter"])
        settings = {k: _coerce_setting(k, v) for k, v in settings.items()}
        _check_gpus_meter(settings)
        extra = dict(settings.pop("extra", None) or {})
        extra[_EXTRA_CAMPAIGN_KEY] = name
        try:
            spec = RunSpec(**settings, extra=extra).validate()
        except TypeError as exc:  # a wrong type for a field the dataclass cannot take
            raise InvalidValueError(f"cell {settings}: {exc}") from None
        except UsageError as exc:
            exc.args = (f"cell {_short(settings, names)}: {exc}",)
            raise
        try:
            _check_workload_options(spec)
        except UsageError as exc:
            exc.args = (f"cell {_short(settings, names)}: {exc}",)
            raise
        if spec.grid_gco2e_per_kwh is None and spec.region not in regions_ok:
            check_region(spec.region)
            regions_ok.add(spec.region)
        cid = cell_id_of(spec)
        if cid in seen_ids:  # two grid points that overrides made identical: one cell
            continue
        seen_ids.add(cid)
        spec.extra[_EXTRA_CELL_KEY] = cid
        if spec.label is None:
            spec.label = f"{name}/{cid}"
        specs.append(spec)

    if order == "random":
        random.Random(seed).shuffle(specs)
    labelled = ("workload", "backend", "scenario", "queries", "repetitions", "device", "region",
                "preset", "precision")
    varied = tuple(n for n in names if len(axes[n]) > 1)
    shown = tuple(n for n in varied if n not in labelled)
    cells = [Cell(cell_id=str(s.extra[_EXTRA_CELL_KEY]), spec=s, index=i, shown=shown,
                  varied=varied)
             for i, s in enumerate(specs)]
    return Campaign(name=name, cells=cells, description=str(doc.get("description") or ""),
                    order=order, seed=seed, cooldown_s=cooldown_s,
                    path=Path(source) if str(source) != "<campaign>" else None, axes=axes)


def _overrides_name_devices(raw: Any) -> bool:
    """Whether an override matches on or sets a device (then names need the catalog)."""
    if not isinstance(raw, list):
        return False
    return any(isinstance(item, dict) and any(
        isinstance(item.get(part), dict) and "device" in item[part] for part in ("where", "set"))
        for item in raw)


def _check_meter(meter: Any) -> Any:
    """The canonical meter name (``modeled`` -> ``modelled``, so one meter is one cell id).

    Unknown meter names stop the campaign before it runs (not one failed cell per cell).
    """
    from inferlca.meters.registry import ALIASES, METERS

    if meter is None or meter == "auto" or meter in METERS:
        return meter
    if meter in ALIASES:
        return ALIASES[meter]
    if isinstance(meter, str) and "+" in meter:  # a combination (nvml+rapl): each part canonical
        from inferlca.meters.composite import check_distinct
        from inferlca.meters.registry import meter_class

        parts = [str(_check_meter(p.strip())) for p in meter.split("+")]
        if "auto" in parts:
            raise InvalidValueError(f"meter {meter!r}: 'auto' cannot be combined with '+'")
        check_distinct([meter_class(p) for p in parts])
        return "+".join(parts)
    raise _unknown("meter", str(meter), ("auto", *METERS))


def _check_workload_options(spec: RunSpec) -> None:
    """The workload's own checks of its options (preset, backend x precision, accuracy...).

    Building a workload object loads no model; files (weights, dataset, prompts) are left out
    of this check because on a cluster they may exist only on the node that runs the cell.
    """
    import dataclasses

    from inferlca.workloads.registry import workload_class

    try:
        cls = workload_class(spec.workload)
    except UnknownNameError:  # a workload list injected by a caller: nothing more to check
        return
    cls(dataclasses.replace(spec, weights=None, dataset=None, prompts=None))


def _check_workload(workload: Any, known: list[str]) -> None:
    if workload is None:
        raise InvalidValueError("a workload is empty (YAML null); for the null workload write it "
                                "in quotes: \"null\"")
    if workload not in known:
        raise UnknownNameError("workload", str(workload), known)


def _short(settings: dict[str, Any], names: list[str]) -> str:
    return "{" + ", ".join(f"{n}={settings.get(n)!r}" for n in names) + "}"


def _resolve_device_name(name: Any, resolve_device: DeviceResolver | None) -> str | None:
    if name is None or (isinstance(name, str) and name.lower() in LOCAL_DEVICE_NAMES):
        return None
    if not isinstance(name, str):
        raise InvalidValueError(f"a device must be a catalog name, got {name!r}")
    assert resolve_device is not None
    return resolve_device(name)


def _expand_device_class(cls: Any, expand_class: ClassExpander | None) -> list[str]:
    key = DEVICE_CLASS_ALIASES.get(str(cls), str(cls))
    if key not in DEVICE_CLASSES:
        raise _unknown("device class", str(cls), DEVICE_CLASSES + tuple(DEVICE_CLASS_ALIASES))
    assert expand_class is not None
    return expand_class(key)


def _parse_overrides(raw: Any, resolve_device: DeviceResolver | None
                     ) -> list[tuple[dict[str, list[Any]], dict[str, Any]]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidValueError("overrides must be a list of {where: {...}, set: {...}} entries")
    out: list[tuple[dict[str, list[Any]], dict[str, Any]]] = []
    for i, item in enumerate(raw):
        where_name = f"overrides[{i}]"
        if not isinstance(item, dict):
            raise InvalidValueError(f"{where_name} must be a mapping with 'where' and 'set'")
        _check_keys(where_name, item, ("where", "set"))
        if "set" not in item:
            raise InvalidValueError(f"{where_name} has no 'set': say which settings to change")
        where = item.get("where") or {}
        if not isinstance(where, dict):
            raise InvalidValueError(f"{where_name}.where must be a mapping of run settings")
        _check_keys(f"{where_name}.where", where, SETTING_KEYS)
        patch = _check_run_settings(f"{where_name}.set", item["set"])
        conditions: dict[str, list[Any]] = {}
        for k, v in where.items():
            values = v if isinstance(v, list) else [v]
            if k == "device":
                values = [_resolve_device_name(x, resolve_device) for x in values]
            conditions[k] = values
        if "device" in patch:
            patch["device"] = _resolve_device_name(patch["device"], resolve_device)
        out.append((conditions, patch))
    return out


def _matches(actual: Any, accepted: list[Any]) -> bool:
    return any(actual == a for a in accepted)
