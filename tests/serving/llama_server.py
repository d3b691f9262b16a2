"""llama-cpp-python's OpenAI server on the tiny seeded model (:mod:`tiny_gguf`), for the tests
that need a REAL model server: the launch command, a free port, and a server running for a block.

Call :func:`require` at the top of a test module first: it skips the module, with the reason, when
``llama_cpp`` (``pip install 'llama-cpp-python[server]'``, built from source by ``.ci/run``),
``gguf`` or the client's libraries are not installed.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def require() -> None:
    """Skip the calling test module unless a llama.cpp server can be written and run here."""
    pytest.importorskip("httpx")
    pytest.importorskip("h11")
    pytest.importorskip("mlperf_loadgen")
    pytest.importorskip("gguf",
                        reason="gguf is not installed (the dev extra): cannot write the model")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: .ci/run builds "
                        "it (pip install 'llama-cpp-python[server]')")
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python lacks its [server] extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_cmd(model_path: Path | str, port: int) -> str:
    """The command that serves ``model_path`` as model ``tiny`` on ``port`` (one thread)."""
    return (f"{sys.executable} -m llama_cpp.server --model {model_path} --host 127.0.0.1 "
            f"--port {port} --model_alias tiny --n_ctx 512 --n_threads 1 --verbose False")


@contextlib.contextmanager
def running(model_path: Path | str) -> Iterator[str]:
    """A server of ``model_path`` for the block; yields its API base URL."""
    from inferlca.workloads.serving.endpoint import LaunchedServer, health_url

    port = free_port()
    srv = LaunchedServer(launch_cmd(model_path, port))
    srv.start()
    try:
        url = f"http://127.0.0.1:{port}/v1"
        srv.wait_ready(health_url(url, None), 120)
        yield url
    finally:
        srv.stop()
