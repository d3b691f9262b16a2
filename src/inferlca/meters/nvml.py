"""NVIDIA GPUs through NVML (the ``pynvml`` module of ``nvidia-ml-py``), one channel per GPU.

* Energy: the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the
  driver loaded; Volta and newer) is the primary energy source where supported; it is stored as a
  counter channel (joules, relative to the first read).
* Power: the instant-power field (``NVML_FI_DEV_POWER_INSTANT``, newer drivers) where supported,
  else ``nvmlDeviceGetPowerUsage``, recorded as averaged (``power_averaging_s`` = 1.0: on recent
  GPUs that reading is a ~1 s moving average, so short windows need the counter).
* With several GPUs a ``gpus`` channel (sum, NaN if one read failed) is the primary.
* Device name, driver version, enforced power limit and MIG mode are stored in the trace's meta.
* The GPUs measured are those the run uses: ``gpus=`` (``--gpus 0,2``, NVML indices), else the
  ones ``CUDA_VISIBLE_DEVICES`` names (indices, GPU UUIDs, MIG instance UUIDs), else all. Under
  MIG the whole GPU is measured (NVML has no per-instance power) and the instances' share is
  recorded with its rule (:data:`MIG_SHARE_RULE`). The devices measured are stored with the run.
* An NVML error on a read is a gap with the NVML reason, never a zero.

The vendor module can be injected (``nvml=``): tests pass a fake with the same function names.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from inferlca.errors import InvalidValueError, MeterUnavailableError, named
from inferlca.meters.base import PowerMeter, Reading

#: Field id of the instant power (``pynvml.NVML_FI_DEV_POWER_INSTANT``).
FI_POWER_INSTANT = 186


def _load_nvml(nvml: Any = None) -> Any:
    if nvml is not None:
        return nvml
    import pynvml  # nvidia-ml-py is a core dependency; the C library may still be missing

    return pynvml


def parse_gpus(gpus: Any) -> list[int] | None:
    """``"0,1"``, ``[0, 1]`` or ``None`` (all GPUs) -> list of indices."""
    if gpus is None or gpus == "" or gpus == "all":
        return None
    items = gpus.split(",") if isinstance(gpus, str) else list(gpus)
    out = []
    for item in items:
        try:
            idx = int(str(item).strip())
        except ValueError:
            raise InvalidValueError(f"{named('gpus')} takes GPU indices like 0,1; got {gpus!r}") from None
        if idx < 0:
            raise InvalidValueError(f"GPU index must be >= 0, got {idx}")
        out.append(idx)
    if not out or len(set(out)) != len(out):
        raise InvalidValueError(f"{named('gpus')} needs distinct GPU indices like 0,1; got {gpus!r}")
    return out


MIG_SHARE_RULE = (
    "share = streaming multiprocessors of the instance(s) used / streaming multiprocessors of "
    "the whole GPU (nvmlDeviceGetAttributes multiprocessorCount); idle and shared parts (memory "
    "controllers, board) are split the same way"
)


def resolve_visible(
    nv: Any, env: str, count: int
) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """Physical GPU indices named by ``CUDA_VISIBLE_DEVICES`` (indices, ``GPU-<uuid>`` or a prefix
    of it, ``MIG-<uuid>``), and for MIG instances their parent GPU's share.

    Integer entries are taken as NVML indices (CUDA's order equals NVML's with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; UUIDs are unambiguous). As CUDA does, the list stops at the
    first entry that names no device; ``""``/``-1`` hides every GPU.

    Raises:
        MeterUnavailableError: no GPU visible.
        InvalidValueError: an index that does not exist.
    """
    entries = [e.strip() for e in env.split(",")]
    indices: list[int] = []
    mig: dict[int, dict[str, Any]] = {}
    uuids: list[str] | None = None
    for e in entries:
        if not e:
            break
        if e.lstrip("-").isdigit():
            idx = int(e)
            if idx < 0:
                break
            if idx >= count:
                raise InvalidValueError(
                    f"CUDA_VISIBLE_DEVICES names GPU {idx}, which does not exist; this machine "
                    f"has {count} NVIDIA GPU(s) (indices 0..{count - 1})"
                )
            if idx not in indices:
                indices.append(idx)
            continue
        if e.startswith("MIG-"):
            try:
                h = nv.nvmlDeviceGetHandleByUUID(e)
                parent = nv.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(h)
                pidx = int(nv.nvmlDeviceGetIndex(parent))
                sm_i = float(nv.nvmlDeviceGetAttributes(h).multiprocessorCount)
                sm_p = float(nv.nvmlDeviceGetAttributes(parent).multiprocessorCount)
            except (nv.NVMLError, AttributeError) as exc:
                raise InvalidValueError(
                    f"CUDA_VISIBLE_DEVICES names MIG instance {e!r}, which NVML cannot resolve "
                    f"({exc}); `nvidia-smi -L` lists the MIG UUIDs"
                ) from None
            m = mig.setdefault(pidx, {"instances": [], "share": 0.0})
            m["instances"].append(e)
            m["share"] = min(1.0, m["share"] + (sm_i / sm_p if sm_p > 0 else 0.0))
            if pidx not in indices:
                indices.append(pidx)
            continue
        if uuids is None:
            uuids = [
                _text(nv.nvmlDeviceGetUUID(nv.nvmlDeviceGetHandleByIndex(i))) for i in range(count)
            ]
        want = e if e.startswith("GPU-") else f"GPU-{e}"
        hits = [i for i, u in enumerate(uuids) if u.startswith(want)]
        if len(hits) != 1:
            break  # CUDA ignores this entry and the ones after it
        if hits[0] not in indices:
            indices.append(hits[0])
    if not indices:
        raise MeterUnavailableError(
            f"CUDA_VISIBLE_DEVICES={env!r} makes no NVIDIA GPU visible to the run: nothing to "
            "measure on the GPU (unset it, or name the GPUs the run uses)"
        )
    return indices, mig


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


class NvmlMeter(PowerMeter):
    """Power and energy of NVIDIA GPUs through NVML."""

    name = "nvml"
    estimated = False
    description = "NVIDIA GPUs via NVML: total-energy counter + power per GPU"
    scope = "accelerator"
    rail_family = "nvidia-gpu"

    def __init__(
        self,
        gpus: Sequence[int] | str | None = None,
        nvml: Any = None,
        visible_devices: str | None = None,
    ) -> None:
        super().__init__()
        self._nvml = nv = _load_nvml(nvml)
        wanted = parse_gpus(gpus)
        env = (
            os.environ.get("CUDA_VISIBLE_DEVICES") if visible_devices is None else visible_devices
        )
        self._selection = "--gpus" if wanted is not None else (
            "CUDA_VISIBLE_DEVICES" if env is not None else "all GPUs"
        )
        self._mig_parts: dict[int, dict[str, Any]] = {}
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise MeterUnavailableError(
                f"NVML cannot start ({exc}); install the NVIDIA driver"
            ) from None
        self._open = True
        try:
            count = nv.nvmlDeviceGetCount()
            if wanted is None and env is not None:
                wanted, self._mig_parts = resolve_visible(nv, env, count)
            indices = list(range(count)) if wanted is None else wanted
            bad = [i for i in indices if i >= count]
            if bad or not indices:
                raise InvalidValueError(
                    f"GPU index {bad[0] if bad else '?'} does not exist; this machine has "
                    f"{count} NVIDIA GPU(s) (indices 0..{count - 1})"
                )
            self.gpus = indices
            self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in indices]
            self._driver = self._optional(nv.nvmlSystemGetDriverVersion)
            self._devices: list[dict[str, Any]] = []
            self._has_counter: list[bool] = []
            self._has_instant: list[bool] = []
            self._offset_mj: list[float] = []
            for i, h in zip(indices, self._handles):
                info = {
                    "index": i,
                    "uuid": _text(self._optional(nv.nvmlDeviceGetUUID, h))
                    if hasattr(nv, "nvmlDeviceGetUUID") else None,
                    "name": _text(self._optional(nv.nvmlDeviceGetName, h)),
                    "power_limit_w": _mw(self._optional(nv.nvmlDeviceGetEnforcedPowerLimit, h)),
                    "mig_mode": self._mig(h),
                }
                first = self._optional(nv.nvmlDeviceGetTotalEnergyConsumption, h)
                self._has_counter.append(first is not None)
                self._offset_mj.append(float(first) if first is not None else 0.0)
                self._has_instant.append(self._instant_mw(h) is not None)
                info["energy_counter"] = first is not None
                info["power_source"] = (
                    "instant (NVML_FI_DEV_POWER_INSTANT)"
                    if self._has_instant[-1]
                    else "nvmlDeviceGetPowerUsage (averaged ~1 s on recent GPUs)"
                )
                if i in self._mig_parts:
                    info["mig_instances"] = self._mig_parts[i]["instances"]
                    info["mig_share"] = self._mig_parts[i]["share"]
                    info["mig_share_rule"] = MIG_SHARE_RULE
                self._devices.append(info)
        except BaseException:
            self.close()
            raise
        self.channels = [f"gpu{i}" for i in indices]
        self.counter_channels = [f"gpu{i}" for i, c in zip(indices, self._has_counter) if c]
        if len(indices) > 1:
            self.channels.append("gpus")
            if all(self._has_counter):
                self.counter_channels.append("gpus")
            self.primary = "gpus"
        else:
            self.primary = self.channels[0]
        if not all(self._has_instant):
            self.averaging_s = 1.0

    @classmethod
    def probe(cls, nvml: Any = None, **_: Any) -> tuple[bool, str]:
        try:
            nv = _load_nvml(nvml)
        except ImportError:
            return False, "the nvidia-ml-py package is missing: pip install nvidia-ml-py"
        try:
            nv.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded...
            return (
                False,
                f"NVML cannot start ({exc}): no NVIDIA driver here; install the NVIDIA driver",
            )
        try:
            count = nv.nvmlDeviceGetCount()
        finally:
            nv.nvmlShutdown()
        if count < 1:
            return False, "NVML works but sees no NVIDIA GPU"
        return True, f"{count} NVIDIA GPU(s)"

    # ---- helpers ------------------------------------------------------------------------------
    def _optional(self, fn: Any, *args: Any) -> Any:
        """Call an NVML function; ``None`` when not supported (or failing) on this device."""
        try:
            return fn(*args)
        except self._nvml.NVMLError:
            return None

    def _mig(self, handle: Any) -> str | None:
        mode = self._optional(self._nvml.nvmlDeviceGetMigMode, handle)
        if mode is None:
            return None
        current = mode[0] if isinstance(mode, (tuple, list)) else mode
        return "enabled" if current else "disabled"

    def _instant_mw(self, handle: Any) -> float | None:
        fn = getattr(self._nvml, "nvmlDeviceGetFieldValues", None)
        if fn is None:
            return None
        try:
            values = fn(handle, [FI_POWER_INSTANT])
        except self._nvml.NVMLError:
            return None
        v = values[0]
        if getattr(v, "nvmlReturn", 1) != 0:
            return None
        return float(v.value.uiVal)

    # ---- reading ------------------------------------------------------------------------------
    def read(self) -> Reading:
        nv = self._nvml
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for i, h, counter, instant, offset in zip(
            self.gpus, self._handles, self._has_counter, self._has_instant, self._offset_mj
        ):
            ch = f"gpu{i}"
            try:
                mw = self._instant_mw(h) if instant else None
                if mw is None:
                    mw = float(nv.nvmlDeviceGetPowerUsage(h))
                power[ch] = mw / 1000.0
            except nv.NVMLError as exc:
                power[ch] = math.nan
                errors[ch] = f"NVML power read failed: {exc}"
            if counter:
                try:
                    energy[ch] = (
                        float(nv.nvmlDeviceGetTotalEnergyConsumption(h)) - offset
                    ) / 1000.0
                except nv.NVMLError as exc:
                    energy[ch] = math.nan
                    errors.setdefault(ch, f"NVML energy read failed: {exc}")
        if len(self.gpus) > 1:
            parts = [power[f"gpu{i}"] for i in self.gpus]
            power["gpus"] = math.fsum(parts) if not any(math.isnan(x) for x in parts) else math.nan
            if "gpus" in self.counter_channels:
                es = [energy[f"gpu{i}"] for i in self.gpus]
                energy["gpus"] = math.fsum(es) if not any(math.isnan(x) for x in es) else math.nan
            if math.isnan(power["gpus"]):
                errors["gpus"] = "a GPU read failed: " + "; ".join(
                    v for k, v in errors.items() if k
                )
        return Reading(power, energy, errors)

    def devices(self) -> list[dict[str, Any]]:
        keep = ("index", "uuid", "name", "mig_instances", "mig_share")
        return [{"meter": "nvml", **{k: d[k] for k in keep if k in d}} for d in self._devices]

    def meta(self) -> dict[str, Any]:
        out = {
            "gpu_selection": self._selection,
            "driver": _text(self._driver) if self._driver is not None else None,
            "devices": self._devices,
            "device_name": ", ".join(d["name"] for d in self._devices),
            "power_limit_w": [d["power_limit_w"] for d in self._devices],
            "mig_mode": [d["mig_mode"] for d in self._devices],
            "sensor_update_s": None,
        }
        if self._mig_parts:
            out["mig_note"] = (
                "MIG: NVML reports the whole GPU's power and energy; the energy is the whole "
                f"GPU's, and the instances' share is given by this rule: {MIG_SHARE_RULE}"
            )
        return out

    def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass


def _mw(x: Any) -> float | None:
    return None if x is None else float(x) / 1000.0
