"""Model facts: presets within 2 % of their published sizes, config.json parsing and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferlca.errors import InputFileError, UnknownNameError
from inferlca.estimate.models import PRESETS, ModelFacts, from_hf_config, load_model

MINILM_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "estimate" / "minilm-l6"


@pytest.mark.parametrize("name", [n for n, m in PRESETS.items() if m.published_params])
def test_preset_parameter_count_within_2_percent_of_published(name: str) -> None:
    m = PRESETS[name]
    assert abs(m.published_deviation()) < 0.02, (name, m.parameter_count(), m.published_params)
    assert m.source and m.published_source


def test_every_real_preset_has_a_published_size() -> None:
    assert {n for n, m in PRESETS.items() if not m.published_params} == {"tiny-gpt2", "llm-tiny", "bert-tiny"}


def test_gpt2_parameter_count_by_hand() -> None:
    # wte 50257*768 + wpe 1024*768 + 12 layers * (ln 2*768 + c_attn 768*2304+2304
    # + c_proj 768*768+768 + ln 2*768 + c_fc 768*3072+3072 + c_proj 3072*768+768) + ln_f 2*768
    layer = 1536 + (768 * 2304 + 2304) + (768 * 768 + 768) + 1536 + (768 * 3072 + 3072) + (3072 * 768 + 768)
    assert layer == 7_087_872
    expected = 50257 * 768 + 1024 * 768 + 12 * layer + 1536
    assert PRESETS["gpt2"].parameter_count() == expected == 124_439_808


def test_llama3_8b_gqa_count_by_hand() -> None:
    d, f, kv = 4096, 14336, 8 * 128
    layer = d * d + 2 * d * kv + d * d + 3 * d * f + 2 * d
    assert PRESETS["llama-3-8b"].parameter_count() == 2 * 128256 * d + 32 * layer + d
    assert PRESETS["llama-3-8b"].attention_kind == "GQA"
    assert PRESETS["starcoder"].attention_kind == "MQA"
    assert PRESETS["starcoder"].kv_dim == 128


def test_minilm_preset_matches_the_shipped_config() -> None:
    m = load_model(str(MINILM_DIR))
    preset = PRESETS["minilm-l6"]
    for field in ("layers", "hidden", "heads", "ffn", "vocab", "max_positions", "token_types"):
        assert getattr(m, field) == getattr(preset, field), field
    # 22,713,728 values in the packaged model.safetensors minus the 512 position_ids buffer
    assert m.parameter_count() == 22_713_728 - 512


def test_aliases_and_case() -> None:
    assert load_model("BERT-Large-Uncased") is PRESETS["bert-large"]
    assert load_model("minilm-embed") is PRESETS["minilm-l6"]


def test_unknown_model_suggests() -> None:
    with pytest.raises(UnknownNameError, match="bert-large"):
        load_model("bert-larg")


def _write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_llama_like_config(tmp_path: Path) -> None:
    cfg = {"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
           "vocab_size": 32000, "max_position_embeddings": 32768}
    m = from_hf_config(_write(tmp_path, cfg))
    assert m.parameter_count() == PRESETS["mistral-7b"].parameter_count()


def test_bigcode_multi_query_config(tmp_path: Path) -> None:
    cfg = {"model_type": "gpt_bigcode", "n_embd": 6144, "n_layer": 40, "n_head": 48,
           "n_inner": 24576, "vocab_size": 49152, "n_positions": 8192, "multi_query": True}
    m = from_hf_config(_write(tmp_path, cfg))
    assert m.kv_heads == 1
    assert m.parameter_count() == PRESETS["starcoder"].parameter_count()


def test_config_missing_fields_are_named(tmp_path: Path) -> None:
    cfg = {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12}
    with pytest.raises(InputFileError) as exc:
        from_hf_config(_write(tmp_path, cfg))
    msg = str(exc.value)
    for missing in ("num_attention_heads", "intermediate_size", "vocab_size",
                    "max_position_embeddings"):
        assert missing in msg
    assert "hidden_size" not in msg.split("field(s):")[1]


def test_config_bad_json_and_type(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    p.write_text("{not json")
    with pytest.raises(InputFileError, match="line 1"):
        from_hf_config(p)
    with pytest.raises(InputFileError, match="unsupported model_type 't5'"):
        from_hf_config(_write(tmp_path, {"model_type": "t5"}))


def test_heads_must_divide() -> None:
    with pytest.raises(Exception, match="multiple of kv_heads"):
        ModelFacts("x", "decoder", 1, 64, 4, 3, 256, 10, 16, 16)
