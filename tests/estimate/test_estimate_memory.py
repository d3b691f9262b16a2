"""Memory is a constraint: a model or batch that does not fit the device is refused, saying what
it would take."""


from __future__ import annotations

from inferlca.estimate.memory import check_memory
from inferlca.estimate.models import PRESETS
from inferlca.hardware.catalog import get_catalog

CAT = get_catalog()


def test_starcoder_fp32_does_not_fit_and_says_what_it_would_take(cli) -> None:
    sc = PRESETS["starcoder"]
    m = check_memory(sc, CAT.get("a100-sxm4-40gb"), "fp32", tokens=512, context=576)
    assert m.weight_bytes == 15_517_456_384 * 4
    # KV cache: 40 layers x 2 x 128 (one K/V head) x 4 B per token, 576 tokens
    assert m.kv_bytes_per_token == 40 * 2 * 128 * 4 and m.kv_cache_bytes == 576 * 40_960
    assert m.fits is False
    assert any("quantised to fp16" in a for a in m.advice)
    assert any("split over 2 such devices" in a for a in m.advice)
    r = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32",
            "--tokens-in", "512", "--tokens-out", "64", "--json")
    d = r.json()["devices"][0]
    assert r.code == 0 and d["fits"] is False and d["time_per_query_s"] is None
    assert d["memory"]["need_gb"] > 40
    table = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32")
    assert "does not fit" in table.out and "DOES NOT FIT" in " ".join(table.out.split())
    # the thesis method keeps its numbers but carries the warning
    th = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32",
             "--method", "thesis", "--json").json()["devices"][0]
    assert th["time_per_query_s"]["value"] > 0 and any("DOES NOT FIT" in n for n in th["notes"])


def test_batch_that_does_not_fit_is_an_error(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "jetson-orin-nano-4gb", "--batch", "100000")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "--batch 100000 does not fit" in r.err and "needs" in r.err and "at most" in r.err
    r = cli("estimate", "-m", "llama-3-8b", "-d", "l4", "--concurrency", "4096")
    assert r.code == 2 and "--concurrency 4096 does not fit" in r.err and "at most" in r.err
