"""llm-generate: prompts, context policy, weights check, decode loop, batching, token metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_helpers import llm_cache_dir  # noqa: F401  (autouse: weights in a temporary cache)

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, UsageError
from inferlca.lca.tokens import token_impacts
from inferlca.spec import LLMOptions
from inferlca.traces.energy import merge_windows, phase_energies_from_steps
from inferlca.traces.trace import PowerTrace
from inferlca.workloads import llm as gen
from inferlca.workloads.llm import (
    BatchScheduler,
    GenRequest,
    GenResult,
    LLMGenerate,
    Prompt,
    Step,
)

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny():
    w = LLMGenerate(max_new_tokens=5, preset="tiny", n_samples=6, seed=3,
                    options=LLMOptions(prompt_len="3..12", max_batch=4))
    w.load()
    return w


# --- presets and prompts ------------------------------------------------------------------------

def test_presets_and_aliases():
    assert gen.get_preset(None).name == "gpt2"
    assert gen.get_preset("gpt2-small").n_embd == 768
    assert gen.get_preset("tiny").n_layer == 2
    with pytest.raises(UnknownNameError, match="tiny"):
        gen.get_preset("tinny")


def test_empty_prompt_file_is_refused(tmp_path):
    p = tmp_path / "prompts.txt"
    p.write_text("\n   \n\n")
    with pytest.raises(InputFileError, match="empty"):
        gen.read_prompt_file(p)
    with pytest.raises(InputFileError, match="not found"):
        gen.read_prompt_file(tmp_path / "missing.txt")
    with pytest.raises(InputFileError, match="empty"):
        LLMGenerate(max_new_tokens=4, preset="tiny", prompts=str(p))


def test_from_spec(tmp_path):
    from inferlca.spec import RunSpec

    p = tmp_path / "p.txt"
    p.write_text("one\ntwo\nthree\n")
    spec = RunSpec(workload="llm-generate", preset="tiny", max_new_tokens=3, prompts=str(p),
                   extra={"max_batch": 2, "sampling": "sample"})
    w = LLMGenerate(spec)
    w.prepare()
    assert w.sample_count == 3 and w.options.max_batch == 2 and w.max_new_tokens == 3
    assert w.samples[1].input_ids == list(b"two") and w.synthetic_weights
    spec = RunSpec(workload="llm-generate", preset="tiny", scenario="multi-stream", queries=3,
                   samples_per_query=4)
    w = LLMGenerate(spec)
    w.prepare()
    assert w.sample_count == 12  # enough distinct prompts for 3 queries of 4 samples
    with pytest.raises(InvalidValueError, match="max_batch"):
        LLMGenerate(RunSpec(workload="llm-generate", preset="tiny", extra={"max_batch": 0}))


def test_prompt_file_lines_and_jsonl(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("hello\n\nsecond prompt\n")
    recs = gen.read_prompt_file(txt)
    assert [(r["prompt"], r["line"]) for r in recs] == [("hello", 1), ("second prompt", 3)]
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"prompt": "hé"}) + "\n" + json.dumps({"input_ids": [1, 2, 3], "max_new_tokens": 2}) + "\n")
    recs = gen.read_prompt_file(jl)
    prompts = gen.encode_prompts(recs, jl, None, vocab_size=512)
    # "hé" in UTF-8 is 0x68 0xC3 0xA9 = 104, 195, 169
    assert prompts[0].input_ids == [104, 195, 169]
    assert prompts[1].input_ids == [1, 2, 3] and prompts[1].max_new_tokens == 2


@pytest.mark.parametrize("line, match", [
    ("{not json", "line 2"),
    ('{"text": "x"}', "needs \"prompt\""),
    ('{"input_ids": []}', "non-empty list"),
    ('{"prompt": "x", "max_new_tokens": 0}', "max_new_tokens"),
    ("[1, 2]", "JSON object"),
])
def test_bad_jsonl_names_the_line(tmp_path, line, match):
    p = tmp_path / "p.jsonl"
    p.write_text('{"prompt": "ok"}\n' + line + "\n")
    with pytest.raises(InputFileError, match=match):
        gen.read_prompt_file(p)


def test_token_id_outside_vocabulary(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text('{"input_ids": [1, 600]}\n')
    with pytest.raises(InputFileError, match="600 is outside the vocabulary"):
        gen.encode_prompts(gen.read_prompt_file(p), p, None, vocab_size=512)


def test_prompt_len_parsing():
    assert gen.parse_prompt_len("32") == (32, 32)
    assert gen.parse_prompt_len("16..64") == (16, 64)
    for bad in ("0", "10..5", "abc", "3..x"):
        with pytest.raises(InvalidValueError, match="prompt_len"):
            gen.parse_prompt_len(bad)


def test_synthetic_prompts_are_seeded_and_in_range():
    a = gen.synthetic_prompts(20, seed=7, vocab_size=512, prompt_len=(4, 9), avoid=[511])
    b = gen.synthetic_prompts(20, seed=7, vocab_size=512, prompt_len=(4, 9), avoid=[511])
    assert [p.input_ids for p in a] == [p.input_ids for p in b]
    assert all(4 <= len(p.input_ids) <= 9 for p in a)
    assert all(0 <= t < 511 for p in a for t in p.input_ids)
    c = gen.synthetic_prompts(20, seed=8, vocab_size=512, prompt_len=(4, 9))
    assert [p.input_ids for p in a] != [p.input_ids for p in c]


def test_context_policy_refuse_and_truncate():
    # context 16, 6 new tokens -> room for 10 prompt tokens; a 12-token prompt is 2 too long
    prompt = Prompt(list(range(12)), source="p.txt:3")
    with pytest.raises(InvalidValueError, match=r"p.txt:3 has 12 tokens.*at most 10"):
        gen.fit_to_context([prompt], 6, 16, "refuse")
    fitted, warnings = gen.fit_to_context([prompt], 6, 16, "truncate")
    assert fitted[0].input_ids == list(range(2, 12))
    assert "truncated by 2 tokens" in warnings[0]
    with pytest.raises(InvalidValueError, match="no room for a prompt"):
        gen.fit_to_context([Prompt([1])], 16, 16)
    with pytest.raises(UnknownNameError):
        gen.fit_to_context([prompt], 6, 16, "drop")


def test_max_new_tokens_below_one():
    for bad in (0, -3, True, 2.5):
        with pytest.raises(InvalidValueError, match="max-new-tokens"):
            LLMGenerate(max_new_tokens=bad, preset="tiny")


# --- weights ----------------------------------------------------------------------------------

def test_non_causal_weights_are_refused(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                  intermediate_size=64, vocab_size=100)
    transformers.BertForQuestionAnswering(cfg).save_pretrained(tmp_path / "bert")
    with pytest.raises(UsageError, match="BertForQuestionAnswering is not a causal language model"):
        gen.check_causal_lm_folder(tmp_path / "bert")
    with pytest.raises(InvalidValueError, match="config.json is missing"):
        gen.check_causal_lm_folder(tmp_path)
    with pytest.raises(InvalidValueError, match="not a folder"):
        gen.check_causal_lm_folder(tmp_path / "nope")


def test_real_weights_folder_loads(tmp_path, tiny):
    tiny.model.save_pretrained(tmp_path / "lm")
    cfg = gen.check_causal_lm_folder(tmp_path / "lm")
    assert cfg["architectures"] == ["GPT2LMHeadModel"]
    w = LLMGenerate(max_new_tokens=3, weights=str(tmp_path / "lm"), n_samples=2,
                    options=LLMOptions(prompt_len="4", force_length=True))
    w.load()
    assert not w.synthetic_weights and gen.SYNTHETIC_NOTE not in w.notes
    assert tiny.synthetic_weights and gen.SYNTHETIC_NOTE in tiny.notes
    # the same weights give the same greedy tokens as the preset model they were saved from
    req = [GenRequest(0, [5, 6, 7, 8], 3, 0.0)]
    assert w.engine.generate(req)[0].output_ids == tiny.engine.generate(req)[0].output_ids


# --- decode loop ------------------------------------------------------------------------------

def test_token_counts_exact_and_timestamps_ordered(tiny):
    tiny.take_results()
    outputs = tiny.run(list(range(6)))
    assert [len(o) for o in outputs] == [5] * 6
    results, steps = tiny.take_results()
    results.sort(key=lambda r: r.index)
    assert [r.output_ids for r in results] == outputs
    assert [r.tokens_out for r in results] == [5] * 6
    assert [r.tokens_in for r in results] == [len(tiny.samples[i].input_ids) for i in range(6)]
    for r in results:
        assert r.arrival_s <= r.first_token_s <= r.end_s
        assert r.ttft_s <= r.e2e_s
        assert all(a <= b for a, b in zip(r.token_times_s, r.token_times_s[1:]))
        assert math.isclose(r.tpot_s * (r.tokens_out - 1), r.end_s - r.first_token_s)
    assert tiny.series["tokens_out"] == [5.0] * 6
    # 6 requests in batches of 4 and 2: each batch is 1 prefill + 4 decode steps
    assert [s.phase for s in steps] == (["prefill"] + ["decode"] * 4) * 2
    assert [s.batch for s in steps if s.phase == "prefill"] == [4, 2]


def test_decoding_uses_the_cache_keyword_of_the_installed_transformers(tiny):
    """transformers 5.x renamed ``past_key_values`` to ``cache`` and warns at each call with the
    old name: a run must not print that warning (4.x has only the old name)."""
    import inspect
    import warnings

    params = inspect.signature(tiny.model.forward).parameters
    assert tiny.engine._cache_kw == ("cache" if "cache" in params else "past_key_values")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        tiny.take_results()
        assert [len(o) for o in tiny.run([0, 1])] == [5, 5]
    tiny.take_results()


def test_eos_is_masked_for_synthetic_weights(tiny):
    eos = gen.eos_ids(tiny.model)
    assert eos == [511]
    logits = __import__("torch").zeros((1, 512))
    logits[0, 511] = 100.0  # EOS would win greedy decoding
    assert tiny.engine._choose(logits, []).tolist() == [0]


def test_batched_tokens_equal_unbatched_with_seeded_sampling():
    w = LLMGenerate(max_new_tokens=6, preset="tiny", n_samples=4, seed=1,
                    options=LLMOptions(prompt_len="2..10", sampling="sample", top_k=50,
                                              max_batch=4))
    w.load()
    batched = dict(enumerate(w.run([0, 1, 2, 3])))
    alone = {i: w.run([i])[0] for i in range(4)}
    assert batched == alone
    assert len({tuple(v) for v in batched.values()}) > 1  # sampling gives different answers


def test_scheduler_batches_waiting_requests(tiny):
    seen_first, done = [], []
    sched = BatchScheduler(tiny.engine, max_batch=2,
                           on_first_token=lambda r, tok, t: seen_first.append(r.index),
                           on_done=done.append)
    # five requests wait before the worker starts: batches of 2, 2 and 1, oldest first
    sched.submit(*[tiny.request(i, 0.0, tag=i) for i in range(5)])
    with sched:
        assert sched.wait_idle(60)
    assert sched.batch_sizes == [2, 2, 1]
    assert seen_first == [0, 1, 2, 3, 4]
    assert sorted(r.tag for r in done) == [0, 1, 2, 3, 4]
    assert sched.error is None


def test_scheduler_reports_a_failed_batch(tiny):
    failed = []
    sched = BatchScheduler(tiny.engine, max_batch=4, on_error=lambda reqs, exc: failed.extend(reqs))
    with sched:
        sched.submit(GenRequest(0, [], 3, 0.0, tag="empty"))
        assert sched.wait_idle(60)
    assert isinstance(sched.error, InvalidValueError)
    assert [r.tag for r in failed] == ["empty"]


# --- metrics ----------------------------------------------------------------------------------

def _result(index, arrival, times, tokens_in=4):
    return GenResult(index, tokens_in, list(range(len(times))), arrival, arrival, list(times))


def test_request_metrics_golden():
    # request A: arrives 0, tokens at 0.1, 0.2, 0.3 -> TTFT 0.1, TPOT (0.3-0.1)/2 = 0.1, 3/0.3 = 10 tok/s
    # request B: arrives 0.5, tokens at 0.9, 1.5     -> TTFT 0.4, TPOT (1.5-0.9)/1 = 0.6, 2/1.0 = 2 tok/s
    a = _result(0, 0.0, [0.1, 0.2, 0.3], tokens_in=7)
    b = _result(1, 0.5, [0.9, 1.5], tokens_in=3)
    assert math.isclose(a.tokens_per_s, 10.0) and math.isclose(b.e2e_s, 1.0)
    m = gen.generation_metrics([a, b], energy_compute_j=10.0)
    # per request: (7 + 3) / 2 = 5 tokens in, (3 + 2) / 2 = 2.5 tokens out
    assert m["tokens_in"] == 5.0 and m["tokens_out"] == 2.5
    # LoadGen's percentile: sorted[min(floor(n * p), n - 1)]; n = 2 -> p50 and p99 take index 1
    assert m["ttft_p50_s"] == 0.4 and m["ttft_p99_s"] == 0.4
    assert math.isclose(m["tpot_p50_s"], 0.6)
    assert math.isclose(m["tokens_per_s"], (10.0 + 2.0) / 2)
    # 10 J over 5 output tokens in all
    assert math.isclose(m["energy_per_token_j"], 10.0 / 5)


def test_single_token_requests_have_no_tpot():
    m = gen.request_metrics([_result(0, 0.0, [0.2])])
    assert "tpot_p50_s" not in m and m["tokens_out"] == 1


@settings(max_examples=60, deadline=None)
@given(energy=st.floats(0.0, 1e6), lengths=st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_energy_per_token_times_tokens_is_compute_energy(energy, lengths):
    results = [_result(i, 0.0, [0.1 * (k + 1) for k in range(n)]) for i, n in enumerate(lengths)]
    m = gen.generation_metrics(results, energy_compute_j=energy)
    # tokens_out is per request: x requests = every output token
    total = m["tokens_out"] * len(results)
    assert math.isclose(total, sum(lengths))
    assert math.isclose(m["energy_per_token_j"] * total, energy, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrival=st.floats(0, 10), gaps=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=30))
def test_tpot_and_ttft_add_up_to_end_to_end(arrival, gaps):
    times = list(arrival + np.cumsum(gaps))
    r = _result(0, arrival, times)
    rebuilt = r.ttft_s + (r.tpot_s or 0.0) * (r.tokens_out - 1)
    assert math.isclose(rebuilt, r.e2e_s, rel_tol=1e-9, abs_tol=1e-9)
    assert r.ttft_s <= r.e2e_s


def _trace(t, p):
    return PowerTrace(t_s=np.asarray(t, float), channels={"cpu": np.asarray(p, float)}, primary="cpu",
                      meter="test")


def test_prefill_and_decode_energy_from_steps_golden():
    # power 10 W from t=0 to 2 s, then 30 W from 2 to 4 s (a step at t=2)
    tr = _trace([0, 2, 2, 4], [10, 10, 30, 30])
    steps = [Step(0.5, 1.0, "prefill", 1), Step(1.0, 1.5, "decode", 1), Step(1.5, 1.75, "decode", 1),
             Step(2.5, 3.0, "prefill", 1), Step(3.0, 3.5, "decode", 1)]
    e = phase_energies_from_steps(tr, steps)
    # prefill: 0.5 s x 10 W + 0.5 s x 30 W = 20 J; decode: 0.75 s x 10 W + 0.5 s x 30 W = 22.5 J
    assert math.isclose(e["energy_prefill_j"], 20.0)
    assert math.isclose(e["energy_decode_j"], 22.5)
    # the clock offset shifts windows onto the trace: +1 s moves the first prefill to [1.5, 2]
    e2 = phase_energies_from_steps(tr, steps[:1], offset_s=1.0)
    assert math.isclose(e2["energy_prefill_j"], 5.0)
    assert "energy_decode_j" not in e2


def test_merge_windows_joins_back_to_back_steps():
    steps = [Step(0.0, 1.0, "decode", 1), Step(1.0005, 2.0, "decode", 1), Step(5.0, 6.0, "decode", 1),
             Step(2.0, 3.0, "prefill", 1)]
    assert merge_windows(steps, "decode", 1e-3) == [(0.0, 2.0), (5.0, 6.0)]
    assert merge_windows(steps, "prefill") == [(2.0, 3.0)]


def test_token_impacts_golden():
    impact = {"use_gco2e": {"value": 2.0, "low": 1.0, "high": 4.0},
              "embodied_gco2e": {"value": 0.5, "low": 0.25, "high": 1.0},
              "total_gco2e": {"value": 2.5, "low": 1.25, "high": 5.0}}
    out = token_impacts(impact, total_tokens_out=500, requests=10)
    # per request: / 10; per 1,000 tokens: x 1000 / 500 = x 2
    assert out["per_request"]["use_gco2e"] == {"value": 0.2, "low": 0.1, "high": 0.4}
    assert out["per_1k_tokens"]["total_gco2e"] == {"value": 5.0, "low": 2.5, "high": 10.0}
    assert out["per_1k_tokens"]["embodied_gco2e"]["high"] == 2.0


def test_facts_describe_the_model(tiny):
    f = tiny.facts()
    assert (f.layers, f.hidden_size, f.heads, f.ffn_size, f.vocab_size, f.seq_len) == (2, 64, 4, 256, 512, 256)
    # GPT-2 parameters: wte 512*64 + wpe 256*64 + per layer (12 h^2 + 13 h) + final LN 2h, h = 64
    h = 64
    assert f.parameters == 512 * h + 256 * h + 2 * (12 * h * h + 13 * h) + 2 * h
    assert f.extra["family"] == "decoder" and f.extra["max_new_tokens"] == 5


def _byte_bpe_tokenizer(vocab_size: int = 300):
    """A real byte-level BPE tokenizer trained here on a few phrases (no download)."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the energy of inference", "time to first token"] * 10, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


def test_text_prompts_use_the_weights_tokenizer(tmp_path, tiny):
    folder = tmp_path / "lm"
    tiny.model.save_pretrained(folder)
    prompts = tmp_path / "p.txt"
    prompts.write_text("the energy of inference\ntime to first token\n")
    # without tokenizer files, text prompts cannot be encoded: say so
    w = LLMGenerate(max_new_tokens=2, weights=str(folder), prompts=str(prompts))
    with pytest.raises(UsageError, match="no tokenizer files"):
        w.prepare()
    tok = _byte_bpe_tokenizer()
    tok.save_pretrained(folder)
    w = LLMGenerate(max_new_tokens=2, weights=str(folder), prompts=str(prompts))
    w.prepare()
    assert [p.input_ids for p in w.samples] == [tok("the energy of inference")["input_ids"],
                                                tok("time to first token")["input_ids"]]
    # trained merges make the prompts shorter than their bytes
    assert len(w.samples[0].input_ids) < len(b"the energy of inference")
    # real weights: end-of-sequence is allowed, so a request may stop early, never run over
    w.load()
    try:
        outs = w.run([0, 1])
    finally:
        w.unload()
    assert all(1 <= len(o) <= 2 for o in outs)
    # facts outlive the model (the runner asks for them after the last unload)
    assert w.facts().parameters == tiny.facts().parameters


def test_continuous_batching_joins_a_running_batch_and_changes_no_token():
    w = LLMGenerate(max_new_tokens=12, preset="tiny", n_samples=5, seed=2,
                    options=LLMOptions(prompt_len="2..14", sampling="sample", top_k=40,
                                              max_batch=4))
    w.load()
    try:
        alone = {i: w.run([i])[0] for i in range(5)}
        w.take_results()
        done: list[GenResult] = []
        sched = BatchScheduler(w.engine, max_batch=4, mode="continuous", on_done=done.append)
        late = [w.request(i, 0.0, tag=i) for i in (1, 2, 3, 4)]

        def first(req, tok, t):  # request 0 has its first token: the batch is running now
            if req.tag == 0:
                sched.submit(*late)

        with sched:
            sched.submit(w.request(0, 0.0, tag=0, on_first_token=first))
            assert sched.wait_idle(60)
        assert sched.error is None
        # 0 alone, then 1-3 joined it (4 rows in all); 4 joined when a row was free
        assert sched.batch_sizes == [1, 3, 1]
        assert {r.index: r.output_ids for r in done} == alone
        assert all(r.tokens_out == 12 for r in done)
        steps = w.engine.reset_steps()
        phases = [s.phase for s in steps]
        # the second prefill came between decode steps of the first request
        assert phases[0] == "prefill" and phases[1] == "decode" and phases.count("prefill") == 3
        assert max(s.batch for s in steps if s.phase == "decode") == 4
    finally:
        w.unload()


def test_batching_mode_is_checked():
    with pytest.raises(UnknownNameError, match="batching mode"):
        LLMOptions.from_dict({"batching": "dynamic"}).validate()


def test_compaction_trims_padding_columns(tiny):
    eng = tiny.engine
    long = GenRequest(0, list(range(1, 41)), 2, 0.0)     # 40-token prompt, 2 new tokens
    short = GenRequest(1, [5, 6, 7], 6, 0.0)              # 3-token prompt, 6 new tokens
    alone = eng.generate([short])[0].output_ids
    batch = eng.merge(eng.prefill([long]), eng.prefill([short]))
    # merged: the short row is left-padded to the long one's 40 columns
    assert batch.mask.shape == (2, 40) and batch.mask[1].sum() == 3
    eng.decode_step(batch)          # the long request has its 2 tokens: done
    eng.compact(batch)
    # only the short row is left, with 3 prompt columns + 1 cached token: the padding is gone
    assert batch.rows == 1 and batch.mask.shape == (1, 4) and int(batch.mask.sum()) == 4
    assert batch.past.layers[0].keys.shape[2] == 4
    while batch.active:
        eng.decode_step(batch)
    assert batch.results[0].output_ids == alone
    eng.reset_steps()
