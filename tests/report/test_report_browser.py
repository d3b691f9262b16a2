"""The HTML report in a real headless Chromium, driven through the DevTools protocol.

Checks what a reader sees: every figure loads (non-zero natural size), no console error or
exception, the tables have the expected rows, user text stays text; saves a screenshot.
Skipped (with the reason) when Chromium or websocket-client is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome"))
                 if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"]


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params):  # type: ignore[no-untyped-def]
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout_s: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout_s
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def evaluate(self, expression: str):  # type: ignore[no-untyped-def]
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")


@contextlib.contextmanager
def chromium(profile: Path):  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([CHROMIUM, f"--user-data-dir={profile}", *FLAGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools server")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        dt = DevTools(pages[0]["webSocketDebuggerUrl"])
        try:
            yield dt
        finally:
            dt.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium is not installed "
                    "(apt-get install chromium; .ci/run does it)")
def test_report_renders_in_chromium(sample_report, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client (the dev extra) is not installed")
    _, result, runs = sample_report
    n_figures = sum(1 for f in result.figures if f.data_uri)

    with chromium(tmp_path / "profile") as dt:
        dt.call("Runtime.enable")
        dt.call("Log.enable")
        dt.call("Page.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                deviceScaleFactor=1, mobile=False)
        dt.call("Page.navigate", url=result.html_path.resolve().as_uri())
        dt.wait_for("Page.loadEventFired")
        images = dt.evaluate("""Promise.all(Array.from(document.images).map(i =>
            i.decode().catch(() => null).then(() => ({id: i.id, complete: i.complete,
                w: i.naturalWidth, h: i.naturalHeight}))))""")
        rows = dt.evaluate("""({
            results: document.querySelectorAll('#results-1 tbody tr.device-row').length,
            results_cols: document.querySelectorAll('#results-1 thead th').length,
            lowest: document.querySelectorAll('#results-1 td.lowest').length,
            runs: document.querySelectorAll('#runs-table tbody tr.run-row').length,
            estimated: document.querySelectorAll('#runs-table tbody tr.run-row.estimated').length,
            sources: document.querySelectorAll('#sources-list li').length,
            pwned: window.__pwned === undefined ? null : window.__pwned,
            label_text: Array.from(document.querySelectorAll('#runs-table td'))
                .map(td => td.textContent).filter(t => t.includes('onerror')).length,
        })""")
        height = dt.evaluate("document.documentElement.scrollHeight")
        dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(height), 16000),
                deviceScaleFactor=1, mobile=False)
        shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        errors = [e for e in dt.events if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled"
                      and e["params"]["type"] in ("error", "assert"))
                  or (e.get("method") == "Log.entryAdded"
                      and e["params"]["entry"]["level"] == "error")]

    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    keep = os.environ.get("INFERLCA_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / "report.png")
    assert screenshot.read_bytes()[:4] == b"\x89PNG" and screenshot.stat().st_size > 50_000

    assert errors == []
    assert len(images) == n_figures >= 6
    for img in images:
        assert img["complete"] and img["w"] > 100 and img["h"] > 100, img
    # 7 devices in the results table, 3 query-count columns (+ device and category)
    assert rows["results"] == 7 and rows["results_cols"] == 5
    assert rows["lowest"] == 3  # one per query count
    assert rows["runs"] == len(runs) == 24
    assert rows["estimated"] == 6
    assert rows["sources"] >= 3
    assert rows["pwned"] is None and rows["label_text"] == 1  # the hostile label shows as text


@pytest.mark.skipif(CHROMIUM is None, reason="headless chromium is not installed "
                    "(apt-get install chromium; .ci/run does it)")
@pytest.mark.parametrize("width", [1400, 390])
def test_report_fits_desktop_and_phone(sample_report, tmp_path, width):
    """At desktop and phone width every figure lies inside the page (scaled, not cut), the page
    has no horizontal overflow (wide tables scroll in their own box) and every figure loaded.
    The screenshot is kept in $INFERLCA_SCREENSHOT_DIR when set (look at it)."""
    pytest.importorskip("websocket", reason="websocket-client (the dev extra) is not installed")
    _, result, _ = sample_report
    with chromium(tmp_path / "profile") as dt:
        dt.call("Page.enable")
        dt.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                deviceScaleFactor=1, mobile=width < 600)
        dt.call("Page.navigate", url=result.html_path.resolve().as_uri())
        dt.wait_for("Page.loadEventFired")
        geo = dt.evaluate("""Promise.all(Array.from(document.images).map(i =>
            i.decode().catch(() => null).then(() => { const r = i.getBoundingClientRect();
                return {id: i.id, left: r.left, right: r.right, w: r.width,
                        nat: i.naturalWidth}; })))
            .then(imgs => ({imgs, client: document.documentElement.clientWidth,
                            scroll: document.documentElement.scrollWidth}))""")
        height = dt.evaluate("document.documentElement.scrollHeight")
        dt.call("Emulation.setDeviceMetricsOverride", width=width,
                height=min(int(height), 16000), deviceScaleFactor=1, mobile=width < 600)
        shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png[:4] == b"\x89PNG"
    keep = os.environ.get("INFERLCA_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"report-{width}.png").write_bytes(png)
    assert geo["scroll"] <= geo["client"] + 1, "the page scrolls sideways"
    assert len(geo["imgs"]) >= 6
    for img in geo["imgs"]:
        assert img["nat"] > 100, img
        assert img["left"] >= -1 and img["right"] <= geo["client"] + 1, img  # not cut
        assert img["w"] >= min(0.8 * (geo["client"] - 40), img["nat"]), img  # not shrunk away
