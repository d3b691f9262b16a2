"""The tracker (issue 19): windows, counts, results against traces.energy and the impact core,
threads and asyncio, fallback, store, display, bad input, framework hooks."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import warnings

import numpy as np
import pytest

import inferlca
from inferlca.errors import InvalidValueError, UnknownNameError, UsageError
from inferlca.lca.impact import ImpactContext, compute_impact
from inferlca.meters.base import PowerMeter, Reading
from inferlca.traces.energy import energy
from inferlca.tracker import Tracker, track

DEVICE = "AGX Orin"


class ConstantMeter(PowerMeter):
    """A protocol-conforming meter reading a constant power on two channels (hardware stand-in)."""

    name = "constant"

    def __init__(self, watts: float = 10.0, cpu_watts: float = 4.0) -> None:
        super().__init__()
        self.channels = ["dev", "cpu"]
        self.primary = "dev"
        self.watts = watts
        self.cpu_watts = cpu_watts

    @classmethod
    def probe(cls, **_):
        return True, "always"

    def read(self):
        return Reading({"dev": self.watts, "cpu": self.cpu_watts})


def _tiny_model():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 64)).eval()
    return torch, model


def test_tiny_model_loop_windows_match_traces_energy():
    """A real inference loop (seeded random weights) in nested windows: each window's energy is
    traces.energy over its span of the same trace, and per token is energy / tokens_out."""
    torch, model = _tiny_model()
    x = torch.randn(32, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with track("tiny-loop", device=DEVICE, region="FR", meter="modelled",
                   period_s=0.005) as t:
            for _ in range(3):
                with t.window("batch"):
                    with t.window("forward"), torch.no_grad():
                        for _ in range(40):
                            y = model(x)
                    with t.window("post"):
                        tokens = int(y.argmax(dim=1).numel())
                    t.count(requests=1, tokens_in=32, tokens_out=tokens)
    r = t.result
    assert r.status == "ESTIMATED" and not r.measured and r.meter == "modelled"
    assert set(r.windows) == {"batch", "batch/forward", "batch/post"}
    assert r.window("forward").parent == "batch" and r.window("batch").occurrences == 3
    trace = r.trace
    spans = trace.meta["windows"]
    assert len(spans) == 9
    for path, w in r.windows.items():
        mine = [(s["start_s"], s["end_s"]) for s in spans if s["path"] == path]
        expected = sum(energy(trace, a, b).energy_j for a, b in mine)
        assert w.energy_j == pytest.approx(expected, rel=1e-12)
        assert w.duration_s == pytest.approx(sum(b - a for a, b in mine), rel=1e-12)
    batch, fwd, post = r.window("batch"), r.window("forward"), r.window("post")
    # nested windows lie inside their parent: their energy cannot exceed it
    assert fwd.energy_j + post.energy_j <= batch.energy_j * (1 + 1e-9)
    assert batch.counts == {"requests": 3.0, "tokens_in": 96.0, "tokens_out": 96.0}
    assert fwd.counts == {}  # counted after the inner windows closed
    assert batch.energy_per_token_j == pytest.approx(batch.energy_j / 96)
    assert r.energy_per_token_j == pytest.approx(r.energy_j / 96)
    assert r.energy_per_request_j == pytest.approx(r.energy_j / 3)
    # the whole span is traces.energy over [start, end] of the tracker
    run_start = next(m.t_s for m in trace.marks if m.name == "run")
    run_end = next(m.t_s for m in trace.marks if m.name == "end")
    assert r.energy_j == pytest.approx(energy(trace, run_start, run_end).energy_j, rel=1e-3)
    assert r.energy_j >= batch.energy_j * (1 - 1e-9)
    assert r.impact is not None and r.impact.queries == 3


def test_constant_power_golden_and_impact_core():
    """10 W constant: every window's energy is 10 W x its duration; GWP is compute_impact of it."""
    with track("golden", device=DEVICE, region="DE", meter=ConstantMeter(), period_s=0.005) as t:
        with t.window("outer"):
            time.sleep(0.03)
            with t.window("inner"):
                time.sleep(0.02)
        t.count(requests=2, tokens_out=10)
    r = t.result
    assert r.measured and r.status == "measured"
    for w in r.windows.values():
        assert w.energy_j == pytest.approx(10.0 * w.duration_s, rel=1e-9)
        assert w.channels["cpu"] == pytest.approx(4.0 * w.duration_s, rel=1e-9)
    assert r.energy_j == pytest.approx(10.0 * r.duration_s, rel=1e-6)
    assert r.energy_per_token_j == pytest.approx(r.energy_j / 10)
    ctx = ImpactContext.resolve(DEVICE, region="DE")
    ref = compute_impact(r.energy_j, r.duration_s, ctx, queries=2)
    assert r.impact.total_gco2e.value == pytest.approx(ref.total_gco2e.value, rel=1e-12)
    inner = r.window("inner")
    ref_w = compute_impact(inner.energy_j, inner.duration_s, ctx)
    assert inner.gco2e == pytest.approx(ref_w.total_gco2e.value, rel=1e-12)


def test_explicit_begin_end_overlap_and_bad_closes():
    with track("explicit", device=DEVICE, meter=ConstantMeter()) as t:
        a = t.begin("a")
        time.sleep(0.01)
        b = t.begin("b")  # overlaps a, not nested (explicit windows are nobody's parent)
        time.sleep(0.01)
        t.end("a")
        time.sleep(0.01)
        b.end()
        with pytest.raises(UsageError, match="closed twice"):
            b.end()
        with pytest.raises(UsageError, match="closed already"):
            t.end("a")
        with pytest.raises(UsageError, match="never opened"):
            t.end("zzz")
        left = t.begin("left-open")
    assert a.parent is None and b.parent is None
    assert t.result.windows["a"].spans[0][1] > t.result.windows["b"].spans[0][0]
    assert left.end_mono is not None
    assert any("still open at the end" in n for n in t.result.notes)


def test_bad_input_is_a_clear_exception():
    with pytest.raises(UnknownNameError, match="device"):
        track("x", device="No Such Accelerator 9000")
    with pytest.raises(UnknownNameError, match="region"):
        track("x", device=DEVICE, region="Atlantis")
    with pytest.raises(UnknownNameError, match="meter"):
        track("x", device=DEVICE, meter="wattmeter-9")
    with pytest.raises(InvalidValueError):
        track("x", device=DEVICE, pue=0.5)
    with pytest.raises(InvalidValueError):
        track("", device=DEVICE)
    t = track("x", device=DEVICE, meter=ConstantMeter())
    with pytest.raises(UsageError, match="not running"):
        t.window("early")
    with t:
        with pytest.raises(InvalidValueError, match="tokens_out"):
            t.count(tokens_out=-1)
        with pytest.raises(InvalidValueError):
            t.count(requests=math.nan)
        with pytest.raises(UnknownNameError, match="count"):
            t.count(queries=1)
        with pytest.raises(UsageError, match="still running"):
            _ = t.result
    with pytest.raises(UsageError, match="not running"):
        t.count(requests=1)
    with pytest.raises(UsageError, match="already started"):
        t.start()
    assert t.result.counts == {}


def test_threads_keep_their_own_window_stacks():
    with track("threads", device=DEVICE, meter=ConstantMeter()) as t:
        barrier = threading.Barrier(2)

        def worker(i: int) -> None:
            with t.window(f"worker{i}"):
                barrier.wait()
                with t.window("step"):
                    time.sleep(0.01)
                t.count(requests=1)

        ths = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
    r = t.result
    assert set(r.windows) == {"worker0", "worker1", "worker0/step", "worker1/step"}
    assert r.windows["worker0"].counts == {"requests": 1.0}
    assert r.counts == {"requests": 2.0}


def test_asyncio_tasks_nest_in_their_own_path():
    async def main() -> Tracker:
        async with track("async", device=DEVICE, meter=ConstantMeter()) as t:
            with t.window("serve"):
                async def request(i: int) -> None:
                    with t.window("request"):
                        await asyncio.sleep(0.01)
                        t.count(requests=1, tokens_out=3)
                await asyncio.gather(*(request(i) for i in range(3)))
        return t

    t = asyncio.run(main())
    r = t.result
    # concurrent requests overlap but never nest in each other
    assert set(r.windows) == {"serve", "serve/request"}
    req = r.windows["serve/request"]
    assert req.occurrences == 3 and req.counts == {"requests": 3.0, "tokens_out": 9.0}
    assert r.windows["serve"].counts == {"requests": 3.0, "tokens_out": 9.0}


def test_decorator_sync_and_async():
    @track("decorated", device=DEVICE, meter=ConstantMeter())
    def f(n: int) -> int:
        inferlca.tracker.current().count(requests=n)
        return n * 2

    assert f(3) == 6
    assert f.tracker.result.counts == {"requests": 3.0}
    first = f.tracker
    assert f(1) == 2 and f.tracker is not first  # a fresh tracker per call

    @track("decorated-async", device=DEVICE, meter=ConstantMeter())
    async def g() -> str:
        await asyncio.sleep(0.005)
        return "ok"

    assert asyncio.run(g()) == "ok"
    assert g.tracker.result.duration_s > 0


def test_unavailable_meter_falls_back_with_one_warning(monkeypatch):
    from inferlca.meters import registry
    from inferlca.tracker import core

    monkeypatch.setattr(core, "_warned", set())
    ok, _ = registry.meter_class("nvml").probe()
    if ok:
        pytest.skip("NVML works here: nothing to fall back from")
    with pytest.warns(RuntimeWarning, match="falling back to the modelled meter"), \
            track("fallback", device=DEVICE, meter="nvml") as t:
        time.sleep(0.02)
    assert t.result.status == "ESTIMATED" and t.result.meter == "modelled"
    assert any("ESTIMATED" in n for n in t.result.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the second time: no warning
        with track("fallback2", device=DEVICE, meter="nvml") as t2:
            time.sleep(0.02)
    assert t2.result.status == "ESTIMATED"


def test_saved_result_is_a_run_the_cli_reads(tmp_path):
    from inferlca.cli import run as cli
    from inferlca.store.sqlite import Store

    db = tmp_path / "runs.sqlite"
    with track("saved", device=DEVICE, meter=ConstantMeter(), store=db, label="tr") as t:
        with t.window("work"):
            time.sleep(0.02)
        t.count(requests=4, tokens_in=40, tokens_out=80)
    r = t.result
    assert r.run_id is not None
    with Store.open_readonly(db) as st:
        run = st.get_run(r.run_id)
        assert run.workload == "track:saved" and run.status == "complete" and run.measured
        rep = run.repetitions[0]
        assert rep.metrics["energy_total_j"] == pytest.approx(r.energy_j)
        assert rep.metrics["tokens_out"] == pytest.approx(20.0)  # per request, as the store has
        assert rep.metrics["energy_per_token_j"] == pytest.approx(r.energy_j / 80)
        assert rep.metrics["window_work_energy_j"] == pytest.approx(r.windows["work"].energy_j)
        assert run.impact("total_gco2e") == pytest.approx(r.impact.total_gco2e.value)
        trace = st.load_trace(r.run_id, 0)
        assert trace is not None and [w["path"] for w in trace.meta["windows"]] == ["work"]
    assert cli(["results", "--store", str(db)]) == 0


def test_repr_and_html_are_readable():
    with track("shown", device=DEVICE, meter=ConstantMeter()) as t, t.window("a<b>"):
        time.sleep(0.01)
    text = repr(t.result)
    assert "shown" in text and "measured" in text and "a<b>" in text and "GWP" in text
    h = t.result._repr_html_()
    assert "<table>" in h and "a&lt;b&gt;" in h and "a<b>" not in h
    assert "running" not in repr(t) and "done" in repr(t)


def test_torch_sync_is_a_noop_without_cuda():
    torch, model = _tiny_model()
    from inferlca.tracker.hooks import torch_sync

    if torch.cuda.is_available():
        assert torch_sync() is torch.cuda.synchronize
    else:
        assert torch_sync() is None
    with track("sync", device=DEVICE, meter=ConstantMeter(), sync="torch") as t, \
            t.window("fwd"):
        model(torch.randn(2, 64))
    assert t.result.windows["fwd"].occurrences == 1
    with pytest.raises(InvalidValueError):
        track("sync", device=DEVICE, sync="jax")


def test_token_timer_with_a_tiny_local_transformers_model():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from inferlca.tracker.hooks import TokenTimer

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=64, n_positions=64, n_embd=32, n_layer=1, n_head=2)
    model = transformers.GPT2LMHeadModel(cfg).eval()  # random weights, nothing downloaded
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with track("gen", device=DEVICE, meter=ConstantMeter()) as t:
        timer = TokenTimer()
        with t.window("generate"):
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6,
                           min_new_tokens=6, do_sample=False, pad_token_id=0, streamer=timer)
    s = timer.stats()
    assert s["tokens_in"] == 5 and s["tokens_out"] == 6
    times = np.array(timer.token_times_s)
    assert np.all(np.diff(times) >= 0) and s["ttft_s"] == times[0]
    assert s["tpot_s"] == pytest.approx((times[-1] - times[0]) / 5)
    r = t.result
    assert r.counts == {"requests": 1.0, "tokens_in": 5.0, "tokens_out": 6.0}
    assert r.windows["generate"].energy_per_token_j == pytest.approx(
        r.windows["generate"].energy_j / 6)
    with pytest.raises(UsageError):
        TokenTimer().stats()
