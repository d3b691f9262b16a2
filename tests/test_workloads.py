"""Workloads and backends: registry, BERT facts, real MiniLM embeddings, torch vs ONNX Runtime, auto."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from inferlca.errors import InputFileError, UnknownNameError
from inferlca.spec import RunSpec
from inferlca.workloads.registry import list_workloads, make_workload


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("INFERLCA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def test_registry_names_and_unknown():
    assert {"bert-large-squad", "bert-base-squad", "minilm-embed", "null"} <= set(list_workloads())
    with pytest.raises(UnknownNameError, match="did you mean 'bert-base-squad'"):
        make_workload(RunSpec(workload="bert-base-sqad"))


def test_bert_large_facts_by_hand():
    w = make_workload(RunSpec())
    f = w.facts()
    assert (f.layers, f.hidden_size, f.heads, f.ffn_size, f.seq_len) == (24, 1024, 16, 4096, 384)
    # parameters by hand: embeddings (30522 + 512 + 2) * 1024 + LayerNorm 2048 = 31,782,912
    # per layer 4*1024^2 + 4*1024 + 2*1024*4096 + 4096 + 1024 + 4*1024 = 12,596,224; x24 =
    # 302,309,376; QA head 2*1024 + 2 = 2050; total 334,094,338
    assert f.parameters == 334_094_338
    # forward FLOPs: 2*384*24*(4*1024^2 + 2*1024*4096) = 231,928,233,984; attention
    # 2*24*2*384^2*1024 = 14,495,514,624; QA head 2*384*1024*2 = 1,572,864
    assert f.flops_per_sample == pytest.approx(231_928_233_984 + 14_495_514_624 + 1_572_864)


def test_tiny_bert_parameter_count_matches_the_real_model():
    w = make_workload(RunSpec(workload="bert-base-squad", preset="tiny", backend="torch"))
    w.prepare()
    model = w.build_model()
    assert sum(p.numel() for p in model.parameters()) == w.facts().parameters
    assert w.synthetic_weights is True
    w.load()
    out = w.run([0, 1, 2])
    assert len(out) == 3 and out[0][0].shape == (128,)
    assert w.check({0: out[0]}) is None  # synthetic weights: no accuracy
    w.unload()


def test_unknown_preset():
    with pytest.raises(UnknownNameError, match="unknown preset 'huge'"):
        make_workload(RunSpec(preset="huge"))


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime extra")
def test_onnxruntime_matches_torch_and_export_is_cached():
    from inferlca.workloads.backends import open_backend
    from inferlca.workloads.backends.onnx_backend import export_onnx, onnx_path

    w = make_workload(RunSpec(workload="bert-base-squad", preset="tiny", backend="torch"))
    w.prepare()
    src = w.model_source()
    path, _ = export_onnx(src)
    assert path == onnx_path(src) and path.exists()
    assert export_onnx(src) == (path, False)  # second time: from the cache
    feeds = w.feeds([3, 4])
    t = open_backend("torch", src, threads=1).run(feeds)
    o = open_backend("onnxruntime", src, threads=1).run(feeds)
    for a, b in zip(t, o):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime extra")
def test_auto_calibrates_then_reuses_its_decision():
    from inferlca.workloads.backends.auto import choose_backend

    w = make_workload(RunSpec(workload="bert-base-squad", preset="tiny", seed=7))
    w.prepare()  # auto: calibrates now
    assert w.backend_name in ("torch", "onnxruntime")
    first = next(n for n in w.notes if n.startswith("auto backend"))
    assert "calibrated now" in first
    again = choose_backend(w.model_source(), "fp32", None)
    assert again.cached and again.backend == w.backend_name
    assert again.backend == min(again.median_s, key=again.median_s.get)
    bf16 = choose_backend(w.model_source(), "bf16", None)
    assert bf16.backend == "torch" and "fp32 only" in bf16.note


def test_minilm_embeddings_match_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    from inferlca.workloads.embeddings import package_model_dir

    w = make_workload(RunSpec(workload="minilm-embed", backend="torch", threads=1))
    w.prepare()
    assert w.synthetic_weights is False
    w.load()
    emb = np.stack(w.run([0, 1, 2]))
    w.unload()
    ref = st.SentenceTransformer(str(package_model_dir()), device="cpu").encode(
        w.sentences[:3], normalize_embeddings=True)
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(emb, ref, atol=2e-5)


def test_minilm_reads_squad_questions_and_reports_bad_json(tmp_path):
    from inferlca.workloads.embeddings import squad_questions

    good = tmp_path / "s.json"
    good.write_text('{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": '
                    '[{"id": "1", "question": "Who?", "answers": []}]}]}]}')
    assert squad_questions(good) == ["Who?"]
    bad = tmp_path / "b.json"
    bad.write_text('{"data": [\n  {"title": "t",, }\n]}')
    with pytest.raises(InputFileError, match=r"b.json, line 2: not valid JSON"):
        squad_questions(bad)
