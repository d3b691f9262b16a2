"""Helpers shared by the llm-generate run tests."""

from __future__ import annotations

import pytest

from inferlca.meters.base import PowerMeter, Reading

POWER_W = 50.0
DECODER_KEYS = ("tokens_in", "tokens_out", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s",
                "tokens_per_s", "energy_per_token_j", "energy_prefill_j", "energy_decode_j")


class ConstantMeter(PowerMeter):
    """A sensor that always reads the same power: implements the real PowerMeter protocol, so
    the real Sampler, trace and energy code run on it, and every energy is 50 W x a window."""

    name = "constant"
    estimated = False

    def __init__(self, power_w: float = POWER_W) -> None:
        super().__init__()
        self.channels = ["device"]
        self.primary = "device"
        self.power_w = power_w

    @classmethod
    def probe(cls, **options):
        return True, "test meter"

    def read(self) -> Reading:
        return Reading({"device": self.power_w})


@pytest.fixture(scope="module", autouse=True)
def llm_cache_dir(tmp_path_factory):
    """Synthetic weights go to the session's temporary cache, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFERLCA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        yield
