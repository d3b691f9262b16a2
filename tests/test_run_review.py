"""Regression tests from the acceptance review of `inferlca run` (issue 4) and llm-generate (issue 7)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferlca.spec import RunSpec
from inferlca.workloads.registry import make_workload

SRC = Path(__file__).resolve().parents[1] / "src"
needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                reason="onnxruntime extra")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("INFERLCA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


# ---- --backend auto: the cached calibration expires and can be redone ---------------------------
def _tiny_source():
    w = make_workload(RunSpec(workload="bert-base-squad", preset="tiny", backend="torch", seed=11))
    w.prepare()
    return w.model_source()


@needs_onnx
def test_auto_calibration_expires_and_recalibrate_redoes_it():
    from inferlca.workloads.backends import auto

    src = _tiny_source()
    first = auto.choose_backend(src, threads=1)
    assert not first.cached and "calibrated now" in first.note
    again = auto.choose_backend(src, threads=1)
    assert again.cached and "ago" in again.note and "--recalibrate" in again.note
    # --recalibrate: timed again now, whatever the cache holds
    forced = auto.choose_backend(src, threads=1, use_cache=False)
    assert not forced.cached and "calibrated now: --recalibrate" in forced.note
    # a cached decision older than the limit is timed again
    files = list((Path(auto.cache_dir("calibration"))).glob("*.json"))
    assert files
    for f in files:
        saved = json.loads(f.read_text())
        saved["when_epoch_s"] = time.time() - auto.CALIBRATION_MAX_AGE_S - 3600
        f.write_text(json.dumps(saved))
    old = auto.choose_backend(src, threads=1)
    assert not old.cached and "older than 7 days" in old.note
    # and the fresh decision is cached again
    assert auto.choose_backend(src, threads=1).cached


@needs_onnx
def test_cached_calibration_without_a_date_is_timed_again():
    from inferlca.workloads.backends import auto

    src = _tiny_source()
    auto.choose_backend(src, threads=1, use_cache=False)
    for f in Path(auto.cache_dir("calibration")).glob("*.json"):
        saved = json.loads(f.read_text())
        saved.pop("when_epoch_s", None)
        saved.pop("when", None)
        f.write_text(json.dumps(saved))
    again = auto.choose_backend(src, threads=1)
    assert not again.cached and "had no date" in again.note


@needs_onnx
def test_run_recalibrate_option(cli, tmp_path):
    args = ["run", "-w", "bert-base-squad", "--preset", "tiny", "--threads", "1", "-n", "2",
            "-r", "1", "--store", tmp_path / "r.db", "--logs-dir", tmp_path / "logs", "--json"]
    cli(*args)  # calibrates (or reuses) once
    res = cli(*args, "--recalibrate")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["spec"]["extra"].get("recalibrate") is True
    assert any(n.startswith("auto backend:") and "calibrated now: --recalibrate" in n
               for n in out["notes"])


# ---- llm-generate: one-off imports stay out of the first repetition's load phase --------------
def test_llm_prepare_imports_the_model_modules_before_the_measured_load(tmp_path):
    code = (
        "import sys\n"
        "from inferlca.spec import RunSpec\n"
        "from inferlca.workloads.registry import make_workload\n"
        "w = make_workload(RunSpec(workload='llm-generate', preset='tiny', queries=2))\n"
        "w.prepare()\n"
        "print('transformers.models.gpt2.modeling_gpt2' in sys.modules, "
        "'library_imports_s' in w.prepare_s)\n")
    env = {"PYTHONPATH": str(SRC), "INFERLCA_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True"]


def test_llm_overlong_prompt_error_names_the_cli_option(cli, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("y" * 400 + "\n")
    res = cli("run", "-w", "llm-generate", "--preset", "tiny", "-n", "1", "-r", "1",
              "--prompts", long, "--store", tmp_path / "b.db", "--logs-dir", tmp_path / "logs")
    assert res.code == 2
    assert "--prompt-overflow truncate" in res.err and "prompt_overflow=" not in res.err


# ---- the run table: a device the catalog lacks has no embodied share (not zero) ---------------
def test_run_table_unknown_device_shows_embodied_as_not_available(cli, tmp_path, monkeypatch):
    from inferlca.hardware import detect

    real = detect.detect_device

    def unknown_device(*args, **kwargs):
        import dataclasses

        return dataclasses.replace(real(*args, **kwargs), name="Mystery CPU 1", device=None)

    monkeypatch.setattr(detect, "detect_device", unknown_device)
    res = cli("run", "-w", "null", "-n", "4", "-r", "1", "--meter", "modelled",
              "--store", tmp_path / "u.db", "--logs-dir", tmp_path / "logs")
    assert res.code == 0, res.err
    flat = " ".join(res.out.split())
    assert "needs --device" in flat and "GWP / query: use only" in flat
    line = next(ln for ln in res.out.splitlines() if "GWP / query: embodied" in ln)
    assert "n/a" in line and " 0 " not in line
    # one row for the use-phase-only total, not "use" and "use only" with one number (issue 20)
    assert sum(1 for ln in res.out.splitlines() if "GWP / query: use" in ln) == 1
    # the summary names the grid (region), the PUE's class and the lifetime
    assert "grid: France (FR)" in flat and "PUE: 1 (default for" in flat
    assert "lifetime: 7 years [3 - 7] (default)" in flat


def test_minilm_preset_error_says_what_is_accepted(cli, tmp_path):
    res = cli("run", "-w", "minilm-embed", "--preset", "tiny", "--store", tmp_path / "b.db")
    assert res.code == 2
    assert "omit --preset" in res.err and "known: minilm" in res.err


# ---- LoadGen validity wording --------------------------------------------------------------
def test_token_run_validity_gives_the_early_stopping_reason():
    from inferlca.loadgen import logs

    v = logs.validity({"result_validity": "INVALID", "early_stopping_met": False,
                       "early_stopping_result": "", "early_stopping_ttft_result": "",
                       "early_stopping_tpot_result": " * Only processed 6 queries.  * Need to "
                                                     "process at least 64 queries for early "
                                                     "stopping."})
    assert v.text == ("LoadGen: INVALID as an MLPerf result: early stopping not met (Only "
                      "processed 6 queries. Need to process at least 64 queries for early "
                      "stopping.)")


def test_short_offline_run_valid_for_loadgen_is_not_called_mlperf_valid(cli, tmp_path):
    res = cli("run", "-w", "null", "-s", "offline", "-n", "8", "-r", "1", "--meter", "modelled",
              "--store", tmp_path / "o.db", "--logs-dir", tmp_path / "logs", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    v = out["repetitions"][0]["loadgen"]["validity"]
    assert v["result_validity"] == "VALID" and v["loadgen_valid"] is True  # LoadGen's own verdict
    assert v["valid"] is False and v["mlperf_minimums_kept"] is False
    assert "not an MLPerf-valid result" in v["text"]
    assert any("not an MLPerf-valid result" in n for n in out["notes"])
    assert out["summary"]["validity"][0]["valid"] is False


# ---- one-off imports stay out of the first repetition's load phase (BERT, MiniLM) ------------
@pytest.mark.parametrize("workload, module", [
    ("bert-base-squad", "transformers.models.bert.modeling_bert"),
    ("minilm-embed", "transformers.models.bert.modeling_bert"),
])
def test_prepare_imports_the_model_modules_before_the_measured_load(tmp_path, workload, module):
    preset = "'tiny'" if workload.startswith("bert") else "None"
    code = (
        "import sys\n"
        "from inferlca.spec import RunSpec\n"
        "from inferlca.workloads.registry import make_workload\n"
        f"w = make_workload(RunSpec(workload={workload!r}, preset={preset}, backend='torch', "
        "threads=1))\n"
        "w.prepare()\n"
        f"print({module!r} in sys.modules, 'safetensors.torch' in sys.modules, "
        "'library_imports_s' in w.prepare_s)\n")
    env = {"PYTHONPATH": str(SRC), "INFERLCA_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "True"]


def test_auto_note_gives_long_batches_in_seconds():
    from inferlca.workloads.backends.auto import _describe

    text = _describe({"torch": 9.61, "onnxruntime": 0.428}, "onnxruntime")
    assert text == "median per batch: onnxruntime 428 ms, torch 9.61 s; onnxruntime is faster"


@needs_onnx
def test_auto_prepare_times_the_onnx_export_apart_from_the_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERLCA_CACHE_DIR", str(tmp_path / "fresh-cache"))
    w = make_workload(RunSpec(workload="bert-base-squad", preset="tiny", threads=1, seed=5))
    w.prepare()
    assert "onnx_export_s" in w.prepare_s and "auto_calibration_s" in w.prepare_s
