"""The harness's share of time per output token (TPOT): our decode loop vs transformers ``generate``.

Both sides use the same model object, prompt, greedy decoding, KV cache, batch of 1, and the same
number of new tokens with end-of-sequence suppressed (ours masks EOS; ``generate`` gets
``min_new_tokens``). TPOT is measured the same way for both, from wall-clock totals:

    TPOT = (T(N new tokens) - T(1 new token)) / (N - 1)

so the prefill cancels out. Runs alternate (ours, bare, ours, bare...) so that drift in the machine
load hits both sides alike; the figure is the ratio of medians, goal <= 1.05.

Run: ``python benchmarks/bench_llm.py [--presets tiny gpt2] [--new-tokens 32] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

from inferlca.workloads.generation import (
    DecodeEngine,
    DecodeSettings,
    GenRequest,
    build_model,
    eos_ids,
    get_preset,
)


def time_ours(engine: DecodeEngine, prompt: list[int], n_new: int) -> float:
    t0 = time.perf_counter()
    engine.generate([GenRequest(0, prompt, n_new, 0.0)])
    return time.perf_counter() - t0


def time_bare(model, ids: torch.Tensor, n_new: int, pad: int) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new,
                             min_new_tokens=n_new, do_sample=False, use_cache=True, pad_token_id=pad)
    assert out.shape[1] == ids.shape[1] + n_new
    return time.perf_counter() - t0


def bench(preset: str, n_new: int, prompt_len: int, repeats: int) -> dict[str, float]:
    model, _ = build_model(get_preset(preset), seed=0)
    eos = eos_ids(model)
    pad = eos[0] if eos else 0
    engine = DecodeEngine(model, DecodeSettings(force_length=True), pad_token_id=pad)
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, model.config.vocab_size - 1, (1, prompt_len), generator=g)
    prompt_list = prompt[0].tolist()
    # same tokens on both sides (greedy): checks we compare the same work
    ours_tokens = engine.generate([GenRequest(0, prompt_list, n_new, 0.0)])[0].output_ids
    with torch.inference_mode():
        bare_tokens = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n_new,
                                     min_new_tokens=n_new, do_sample=False, pad_token_id=pad)[0, prompt_len:]
    same = ours_tokens == bare_tokens.tolist()
    for _ in range(2):  # warm-up both paths
        time_ours(engine, prompt_list, n_new)
        time_bare(model, prompt, n_new, pad)
    ours_tpot, bare_tpot, ours_ts_tpot = [], [], []
    for _ in range(repeats):
        ours_tpot.append((time_ours(engine, prompt_list, n_new) - time_ours(engine, prompt_list, 1)) / (n_new - 1))
        bare_tpot.append((time_bare(model, prompt, n_new, pad) - time_bare(model, prompt, 1, pad)) / (n_new - 1))
        r = engine.generate([GenRequest(0, prompt_list, n_new, 0.0)])[0]
        ours_ts_tpot.append(r.tpot_s)
    o, b = statistics.median(ours_tpot), statistics.median(bare_tpot)
    return {"ours_tpot_ms": o * 1e3, "bare_tpot_ms": b * 1e3, "ratio": o / b,
            "ours_tpot_from_timestamps_ms": statistics.median(ours_ts_tpot) * 1e3,
            "same_tokens": float(same)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "gpt2"])
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, prompt {a.prompt_len} tokens, "
          f"{a.new_tokens} new tokens, {a.repeats} alternating repeats (medians)")
    print(f"{'preset':8} {'ours TPOT ms':>13} {'generate TPOT ms':>17} {'ratio':>7} {'goal':>6} "
          f"{'ours (timestamps) ms':>21} {'same tokens':>12}")
    for preset in a.presets:
        r = bench(preset, a.new_tokens, a.prompt_len, a.repeats)
        ok = "ok" if r["ratio"] <= 1.05 else "MISS"
        print(f"{preset:8} {r['ours_tpot_ms']:13.3f} {r['bare_tpot_ms']:17.3f} {r['ratio']:7.3f} {ok:>6} "
              f"{r['ours_tpot_from_timestamps_ms']:21.3f} {'yes' if r['same_tokens'] else 'no':>12}")


if __name__ == "__main__":
    main()
