"""The faithful count against PyTorch's own FLOP counter on real transformers models.

Random-weight models built by transformers from the same architecture (eager attention, so the
attention products are counted as the matrix products they are) run one forward pass under
``torch.utils.flop_counter.FlopCounterMode``; the faithful count must agree exactly. This checks
the formulas against the implementation the workloads run, for MHA, a KV-cache decode step, and
grouped-query attention with a gated FFN.
"""

from __future__ import annotations

import pytest

from inferlca.estimate.flops import faithful_pass, query_cost
from inferlca.estimate.models import PRESETS, ModelFacts

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode


def _count(fn) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        out = fn()
    return fc.get_total_flops(), out


def test_encoder_matches_torch_flop_counter() -> None:
    m = PRESETS["minilm-l6"]
    cfg = transformers.BertConfig(vocab_size=m.vocab, hidden_size=m.hidden,
                                  num_hidden_layers=m.layers, num_attention_heads=m.heads,
                                  intermediate_size=m.ffn, max_position_embeddings=m.max_positions,
                                  attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, m.vocab, (1, 32))
    flops, _ = _count(lambda: model(ids))
    # the pooler (d x d on the first token) is not part of the per-token count: add it
    pooler = 2 * m.hidden * m.hidden
    assert flops == query_cost(m, seq_len=32).flops + pooler
    assert sum(p.numel() for p in model.parameters()) == m.parameter_count()


def test_decoder_prefill_and_kv_cache_step_match_torch() -> None:
    t = PRESETS["tiny-gpt2"]
    cfg = transformers.GPT2Config(vocab_size=t.vocab, n_positions=t.max_positions, n_embd=t.hidden,
                                  n_layer=t.layers, n_head=t.heads, bos_token_id=0,
                                  eos_token_id=0, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    assert sum(p.numel() for p in model.parameters()) == t.parameter_count()
    ids = torch.randint(0, t.vocab, (1, 8))
    flops, out = _count(lambda: model(ids, use_cache=True))
    # transformers computes logits for all 8 prompt positions (we count the last one only)
    assert flops == faithful_pass(t, 8, 8, logits_tokens=8).flops
    nxt = torch.randint(0, t.vocab, (1, 1))
    flops, _ = _count(lambda: model(nxt, past_key_values=out.past_key_values, use_cache=True))
    assert flops == faithful_pass(t, 1, 9, logits_tokens=1).flops  # one token against 9


def test_gqa_gated_decoder_matches_torch() -> None:
    facts = ModelFacts(name="toy-llama", arch="decoder", layers=2, hidden=64, heads=8, kv_heads=2,
                       ffn=160, vocab=300, max_positions=64, head_dim=8, gated_ffn=True,
                       norm="rmsnorm", learned_positions=False, bias=False,
                       tied_embeddings=False)
    cfg = transformers.LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=160,
                                   num_hidden_layers=2, num_attention_heads=8,
                                   num_key_value_heads=2, max_position_embeddings=64,
                                   tie_word_embeddings=False, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    assert sum(p.numel() for p in model.parameters()) == facts.parameter_count()
    ids = torch.randint(0, 300, (1, 6))
    flops, out = _count(lambda: model(ids, use_cache=True))
    assert flops == faithful_pass(facts, 6, 6, logits_tokens=6).flops
    nxt = torch.randint(0, 300, (1, 1))
    flops, _ = _count(lambda: model(nxt, past_key_values=out.past_key_values, use_cache=True))
    assert flops == faithful_pass(facts, 1, 7, logits_tokens=1).flops
