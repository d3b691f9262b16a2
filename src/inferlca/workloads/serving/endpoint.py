"""Checking an OpenAI-compatible endpoint before a run, and starting one (``--launch``).

:func:`probe` asks ``GET {url}/models`` and turns every way it can go wrong into one
:class:`EndpointError` line (exit code 2): nothing listening, a wrong path, a server that does not
speak the OpenAI API, a missing key (401/403), a model it does not serve (the error lists those it
does). :class:`LaunchedServer` starts the server command as an argument list (no shell), keeps its
last output lines, waits until it answers, and stops it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from inferlca.errors import UsageError, named


class EndpointError(UsageError):
    """The endpoint cannot be used as given (exit code 2)."""


@dataclass
class ProbeResult:
    """What ``GET /models`` said: the model names served and how long the answer took."""

    models: list[str]
    seconds: float


def _get(url: str, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read() if exc.fp is not None else b""


def probe(url: str, model: str | None, *, headers: dict[str, str] | None = None,
          timeout_s: float = 10.0, key_env: str | None = None) -> ProbeResult:
    """Check that ``url`` is an OpenAI API that serves ``model``; ``key_env`` names the
    environment variable the API key in ``headers`` came from (for the 401/403 line).

    Raises:
        EndpointError: unreachable, wrong path, not OpenAI-compatible, 401/403, unknown model.
    """
    base = url.rstrip("/")
    target = f"{base}/models"
    t0 = time.monotonic()
    try:
        status, raw = _get(target, dict(headers or {}), timeout_s)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EndpointError(
            f"cannot reach {base}: {reason}; start the server (or give {named('launch')}) and "
            "check the host and port") from None
    seconds = time.monotonic() - t0
    if status in (401, 403):
        what = f"{target} answered {status} ({'unauthorized' if status == 401 else 'forbidden'})"
        if key_env is not None and "Authorization" in (headers or {}):
            raise EndpointError(f"{what}: it refused the API key in ${key_env}; check that "
                                "variable's value")
        raise EndpointError(
            f"{what}: pass the API key in an environment variable named with "
            f"{named('api_key_env')}")
    if status == 404:
        raise EndpointError(
            f"{target} answered 404: no OpenAI API at {base} (the URL usually ends in /v1, "
            "e.g. http://127.0.0.1:8000/v1)")
    if status != 200:
        raise EndpointError(f"{target} answered HTTP {status}: {raw[:120].decode('utf-8', 'replace')}")
    try:
        doc = json.loads(raw)
        data = doc["data"]
        names = [str(m["id"]) for m in data]
    except (ValueError, KeyError, TypeError):
        raise EndpointError(
            f"{base} is not an OpenAI-compatible server: GET /models did not answer "
            "{\"data\": [{\"id\": ...}]}") from None
    if model is not None and names and model not in names:
        raise EndpointError(f"model {model!r} is not served at {base}; it serves: "
                            + ", ".join(names))
    return ProbeResult(names, seconds)


def health_url(url: str, health_path: str | None) -> str:
    """The readiness URL: ``{url}/models``, or ``health_path`` on the URL's host (a path
    starting with ``/``) or a full URL."""
    if not health_path:
        return url.rstrip("/") + "/models"
    if "://" in health_path:
        return health_path
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{health_path.lstrip('/')}"


class LaunchedServer:
    """A server process started from ``command`` (``shlex.split``, no shell).

    Args:
        command: the command line, e.g. ``"python -m llama_cpp.server --model m.gguf --port 8000"``.
        keep_lines: output lines kept for error messages.
    """

    def __init__(self, command: str, keep_lines: int = 12) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise EndpointError(f"launch command cannot be split into arguments: {exc}") from None
        if not self.argv:
            raise EndpointError("launch command is empty")
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._reader: threading.Thread | None = None
        self.started_s: float | None = None
        self.ready_s: float | None = None

    def start(self) -> None:
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise EndpointError(f"cannot start the launch command {self.argv[0]!r}: "
                                f"{exc.strerror or exc}") from None
        self.started_s = time.monotonic()
        self._reader = threading.Thread(target=self._read, daemon=True, name="inferlca-launch-out")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.lines.append(line)

    def tail(self) -> str:
        return " | ".join(self.lines) or "(no output)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, url: str, timeout_s: float, headers: dict[str, str] | None = None,
                   period_s: float = 0.1) -> float:
        """Poll ``url`` until it answers 200; returns the seconds since the start.
 Raises :class:`EndpointError` when the process
        exits first (with its last output lines) or ``timeout_s`` passes.
        """
        assert self.proc is not None and self.started_s is not None
        deadline = self.started_s + timeout_s
        last = "no answer yet"
        while True:
            code = self.proc.poll()
            if code is not None:
                time.sleep(0.05)  # let the reader catch the last lines
                raise EndpointError(f"the launched server exited with code {code} before it "
                                    f"answered; its last output: {self.tail()}")
            try:
                status, _ = _get(url, dict(headers or {}), max(0.2, min(2.0, deadline - time.monotonic())))
                if status == 200:
                    self.ready_s = time.monotonic()
                    return self.ready_s - self.started_s
                last = f"HTTP {status}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
            if time.monotonic() >= deadline:
                self.stop()
                raise EndpointError(
                    f"the launched server did not answer {url} within {timeout_s:g} s "
                    f"(last: {last}); raise {named('launch_timeout_s')} or check the command; its last "
                    f"output: {self.tail()}")
            time.sleep(period_s)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM the process group, then SIGKILL after ``timeout_s``; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout_s)
        if self._reader is not None:
            self._reader.join(2.0)
        return proc.returncode


def auth_headers(api_key_env: str | None) -> dict[str, str]:
    """``Authorization: Bearer ...`` from the environment variable named, if given."""
    if not api_key_env:
        return {}
    key = os.environ.get(api_key_env)
    if not key:
        raise EndpointError(f"{named('api_key_env')} names {api_key_env!r}, but that environment variable "
                            "is not set or empty")
    return {"Authorization": f"Bearer {key}"}
