"""Golden FLOP and byte counts, written out by hand, and properties of the counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.estimate.flops import faithful_pass, query_cost
from inferlca.estimate.models import PRESETS

TINY = PRESETS["tiny-gpt2"]  # L=2, d=64, heads=4 (head_dim 16), f=256, vocab=1000, 128 positions
BERT_LARGE = PRESETS["bert-large"]  # L=24, d=1024, heads=16, f=4096


def test_tiny_layer_params_by_hand() -> None:
    # c_attn 64*192 + c_proj 64*64 + biases 192 + 64 + c_fc 64*256 + c_proj 256*64 + biases 256 + 64
    # + two LayerNorms 2 * 2*64
    assert TINY.layer_params() == 12288 + 4096 + 256 + 32768 + 320 + 256 == 49984
    assert TINY.parameter_count() == 1000 * 64 + 128 * 64 + 2 * 49984 + 128 == 172288


def test_tiny_faithful_prefill_and_decode_golden() -> None:
    # the per-kernel (unfused) traffic count, kept as an option (--traffic unfused)
    c = query_cost(TINY, "faithful", "fp32", tokens_in=8, tokens_out=4, traffic="unfused")
    pre, step = c.passes["prefill"], c.passes["decode_step"]

    # prefill, q = c = 8, per layer:
    #   QKV 2*8*64*(64+2*64) = 196,608; scores and mix 2 * (2*8*8*64) = 16,384;
    #   out proj 2*8*64*64 = 65,536; FFN 2*8*64*256*2 = 524,288          -> 802,816
    # 2 layers = 1,605,632, plus LM head for the last token 2*64*1000 = 128,000
    assert pre.flops == 2 * 802_816 + 128_000 == 1_733_632
    # weights: 2 layers 2*49,984 + token and position rows 8*64*2 + final LN 128 + LM head 1000*64
    assert pre.weight_bytes == 4 * (99_968 + 1_024 + 128 + 64_000) == 660_480
    # activations per layer: 8*(4*64 + 4*64 + 2*256) + 2*4*8*8 = 8,704; 2 layers + head (64+1000)
    assert pre.activation_bytes == 4 * (2 * 8_704 + 1_064) == 73_888
    # K and V: read 2*8*64 and write 2*8*64 values per layer, 2 layers
    assert pre.kv_read_bytes == pre.kv_write_bytes == 4 * 2 * 1_024 == 8_192
    assert pre.bytes == 750_752

    # decode: 3 steps at contexts 9, 10, 11 -> mean context 10, q = 1, per layer:
    #   QKV 2*64*192 = 24,576; scores+mix 4*10*64 = 2,560; out 2*64*64 = 8,192;
    #   FFN 2*64*256*2 = 65,536                                               -> 100,864
    assert c.decode_steps == 3
    assert step.context_tokens == 10
    assert step.flops == 2 * 100_864 + 128_000 == 329_728
    assert step.weight_bytes == 4 * (99_968 + 128 + 128 + 64_000) == 656_896
    # activations: per layer 1*1024 + 2*4*1*10 = 1,104
    assert step.activation_bytes == 4 * (2 * 1_104 + 1_064) == 13_088
    assert step.kv_read_bytes == 4 * 2 * (2 * 10 * 64) == 10_240   # reads the whole cache
    assert step.kv_write_bytes == 4 * 2 * (2 * 1 * 64) == 1_024    # appends one token
    assert step.bytes == 681_248

    assert c.flops == 1_733_632 + 3 * 329_728 == 2_722_816
    assert c.bytes == 750_752 + 3 * 681_248 == 2_794_496


def test_tiny_fused_traffic_golden() -> None:
    """Fused kernels: only each layer's input and output reach memory; FLOPs unchanged."""
    c = query_cost(TINY, "faithful", "fp32", tokens_in=8, tokens_out=4)
    assert c.traffic == "fused"
    pre, step = c.passes["prefill"], c.passes["decode_step"]
    assert pre.flops == 1_733_632 and step.flops == 329_728
    # per layer 2 * q * d = 2*8*64 = 1,024 values (scores stay on chip); 2 layers + head 1,064
    assert pre.activation_bytes == 4 * (2 * 1_024 + 1_064) == 12_448
    assert step.activation_bytes == 4 * (2 * 128 + 1_064) == 5_280
    assert pre.weight_bytes == 660_480 and pre.kv_read_bytes == 8_192


def test_bert_large_384_fused_golden() -> None:
    c = query_cost(BERT_LARGE, "faithful", "fp32", seq_len=384)
    p = c.passes["sequence"]
    assert c.flops == 246_423_748_608
    # 24 layers * 2 * 384 * 1024 values in and out
    assert p.activation_bytes == 4 * 24 * 786_432 == 75_497_472
    assert c.bytes == 1_213_956_096 + 75_497_472 + 2 * 75_497_472 == 1_440_448_512


def test_batch_reads_weights_once() -> None:
    one = query_cost(BERT_LARGE, "faithful", "int8", seq_len=128)
    eight = query_cost(BERT_LARGE, "faithful", "int8", seq_len=128, batch=8)
    p1, p8 = one.passes["sequence"], eight.passes["sequence"]
    assert p8.flops == 8 * p1.flops and eight.flops == one.flops  # per query
    assert p8.activation_bytes == 8 * p1.activation_bytes
    layer_weights = 24 * BERT_LARGE.layer_params()
    assert p8.weight_bytes - p1.weight_bytes == 7 * 128 * 1024 * 3  # embedding rows per sequence
    assert p8.weight_bytes < 1.1 * layer_weights
    assert eight.bytes < one.bytes  # the shared weight read is divided over 8 queries


def test_new_precisions_bytes() -> None:
    fp16 = query_cost(BERT_LARGE, "faithful", "fp16")
    assert query_cost(BERT_LARGE, "faithful", "fp8").bytes == fp16.bytes / 2
    assert query_cost(BERT_LARGE, "faithful", "int4").bytes == fp16.bytes / 4
    assert query_cost(BERT_LARGE, "faithful", "tf32").bytes == fp16.bytes * 2


def test_tiny_thesis_golden() -> None:
    c = query_cost(TINY, "thesis", "fp32", tokens_in=8, tokens_out=4)
    # l = 8 + 4 = 12: 2 layers * (12^2*64 + 2*256*64) = 2 * (9,216 + 32,768)
    assert c.flops == 83_968
    assert c.bytes == 172_288 * 4  # the weights read once


def test_bert_large_384_faithful_golden() -> None:
    c = query_cost(BERT_LARGE, "faithful", "fp32", seq_len=384, traffic="unfused")
    s, d, f = 384, 1024, 4096
    # per layer: 8 s d^2 (QKV + out) + 4 s^2 d (scores + mix) + 4 s d f (FFN)
    per_layer = 8 * s * d * d + 4 * s * s * d + 4 * s * d * f
    assert per_layer == 3_221_225_472 + 603_979_776 + 6_442_450_944 == 10_267_656_192
    assert c.flops == 24 * per_layer == 246_423_748_608  # about 246 GFLOP per query
    # weights: 24 layers of (4,198,400 attention + 8,393,728 FFN + 4,096 norms) = 302,309,376
    # plus token, position and type rows 384*1024*3 = 1,179,648
    p = c.passes["sequence"]
    assert BERT_LARGE.layer_params() == 12_596_224
    assert p.weight_bytes == 4 * (24 * 12_596_224 + 1_179_648) == 1_213_956_096
    # activations per layer: 384*(4*1024 + 4*1024 + 2*4096) + 2*16*384*384 = 11,010,048
    assert p.activation_bytes == 4 * 24 * 11_010_048 == 1_056_964_608
    # K and V read (2*384*1024) and written (same), 24 layers
    assert p.kv_read_bytes == p.kv_write_bytes == 4 * 24 * 786_432 == 75_497_472
    assert c.bytes == 2_421_915_648
    assert c.intensity == pytest.approx(101.75, abs=0.01)


def test_bert_large_384_thesis_golden() -> None:
    c = query_cost(BERT_LARGE, "thesis", "fp32", seq_len=384)
    # 24 * (384^2 * 1024 + 2 * 4096 * 1024) = 24 * (150,994,944 + 8,388,608)
    assert c.flops == 3_825_205_248
    assert c.bytes == 335_141_888 * 4


def test_precision_scales_bytes_not_flops() -> None:
    fp32 = query_cost(BERT_LARGE, "faithful", "fp32")
    fp16 = query_cost(BERT_LARGE, "faithful", "fp16")
    int8 = query_cost(BERT_LARGE, "faithful", "int8")
    assert fp32.flops == fp16.flops == int8.flops
    assert fp32.bytes == 2 * fp16.bytes == 4 * int8.bytes
    assert fp32.seq_len == 384  # MLPerf's default


def test_mqa_shrinks_the_kv_cache() -> None:
    sc = PRESETS["starcoder"]
    step = query_cost(sc, "faithful", "fp16", tokens_in=1000, tokens_out=2).passes["decode_step"]
    # one K/V head of 128: per layer 2 * 1001 * 128 values read, 40 layers, 2 bytes
    assert step.kv_read_bytes == 40 * 2 * 1001 * 128 * 2
    assert step.kv_write_bytes == 40 * 2 * 1 * 128 * 2


@settings(max_examples=40, deadline=None)
@given(t_in=st.integers(1, 60), t_out=st.integers(2, 60))
def test_decode_mean_step_equals_the_sum_over_steps(t_in: int, t_out: int) -> None:
    c = query_cost(TINY, "faithful", "fp32", tokens_in=t_in, tokens_out=t_out)
    steps = [faithful_pass(TINY, 1, t_in + j, "fp32", logits_tokens=1) for j in range(1, t_out)]
    assert c.passes["decode_step"].flops * c.decode_steps == pytest.approx(sum(s.flops for s in steps))
    assert c.passes["decode_step"].bytes * c.decode_steps == pytest.approx(sum(s.bytes for s in steps))


@settings(max_examples=40, deadline=None)
@given(s=st.integers(1, 128))
def test_faithful_flops_grow_with_length_and_exceed_2_params_per_token(s: int) -> None:
    a = query_cost(PRESETS["bert-base"], "faithful", seq_len=s)
    b = query_cost(PRESETS["bert-base"], "faithful", seq_len=s + 1)
    assert b.flops > a.flops and b.bytes > a.bytes
    # every layer weight is used twice per token (multiply + add); attention adds on top
    layer_weights = 12 * (PRESETS["bert-base"].layer_params())
    assert a.flops >= 2 * s * layer_weights * 0.99


@pytest.mark.parametrize("kw", [{"seq_len": 0}, {"seq_len": -3}, {"tokens_in": 0},
                                {"tokens_out": 0}, {"seq_len": 513}])
def test_bad_lengths(kw: dict) -> None:
    model = PRESETS["bert-base"] if "seq_len" in kw else PRESETS["gpt2"]
    with pytest.raises(InvalidValueError):
        query_cost(model, "faithful", **kw)


def test_encoder_rejects_tokens_out_and_bad_names() -> None:
    with pytest.raises(InvalidValueError, match="encoder"):
        query_cost(BERT_LARGE, tokens_out=5)
    with pytest.raises(UnknownNameError):
        query_cost(BERT_LARGE, method="exact")
    with pytest.raises(UnknownNameError):
        query_cost(BERT_LARGE, precision="fp6")
