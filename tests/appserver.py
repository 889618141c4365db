"""Start ``python app.py`` on 127.0.0.1 in a subprocess, as a user would, and stop it after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def app_process(weights: Path | None, log_path: Path, timeout: float = 120.0, extra_env: dict | None = None):
    """Yield (url, process, perf_counter at launch) once the page answers; stop the app after."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        # An empty folder means: no model installed.
        "BONEAGE_WEIGHTS": str(weights) if weights else str(log_path.parent / "no-weights"),
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        launched = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.time() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"app.py exited early:\n{log_path.read_text()}")
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise TimeoutError(f"app.py did not start:\n{log_path.read_text()}") from None
                    time.sleep(0.05)
            yield url, process, launched
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_app(weights: Path | None, log_path: Path, timeout: float = 120.0):
    with app_process(weights, log_path, timeout) as (url, _process, _launched):
        yield url
