"""Write a tiny llama-architecture GGUF model from seeded random weights (for llama.cpp servers in
tests and benchmarks).

2 layers, 64 dimensions, 4 heads, a feed-forward of 128, and a byte-level SentencePiece-style
vocabulary: ``<unk>``, ``<s>``, ``</s>``, the 256 byte tokens ``<0x00>``..``<0xFF>`` and 8
word pieces (267 tokens). Tensor names carry the ``.weight`` suffix llama.cpp looks up.

Random weights would often pick the end token first (an empty answer). Every token embedding has
a large constant in dimension 0, which the residual stream keeps, so the final norm's dimension 0
is always large and positive; the output rows of the special tokens have a large negative weight
there, the others zero: the special tokens are never the likeliest, every answer runs to
``max_tokens``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_FF = 128
N_CTX = 512
WORDS = ("\u2581the", "\u2581energy", "\u2581of", "\u2581a", "\u2581model", "\u2581server",
         "\u2581token", "\u2581per")


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and types (1 normal, 2 unknown, 3 control, 6 byte)."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + list(WORDS)
    types = [2, 3, 3] + [6] * 256 + [1] * len(WORDS)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i + 1) for i in range(len(WORDS))]
    return tokens, scores, types


def write_tiny_llama(path: str | Path, seed: int = 0) -> Path:
    """Write the model to ``path`` (deterministic per ``seed``); returns the path."""
    import gguf

    path = Path(path)
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)

    def w(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("inferlca-tiny-llama")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_file_type(0)  # all f32
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    embd = w(n_vocab, N_EMBD, scale=0.5)
    embd[:, 0] = 8.0  # a constant direction the residual stream keeps
    out = w(n_vocab, N_EMBD, scale=0.5)
    out[:, 0] = 0.0
    out[:3, 0] = -50.0  # special tokens: never the likeliest
    writer.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(p + name + ".weight", w(N_EMBD, N_EMBD))
        writer.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, np.float32))
        writer.add_tensor(p + "ffn_gate.weight", w(N_FF, N_EMBD))
        writer.add_tensor(p + "ffn_up.weight", w(N_FF, N_EMBD))
        writer.add_tensor(p + "ffn_down.weight", w(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    writer.add_tensor("output.weight", out)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
