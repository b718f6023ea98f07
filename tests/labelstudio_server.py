"""A real Label Studio server on 127.0.0.1 (its own venv, .venv-labelstudio) for integration tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / ".venv-labelstudio" / "bin" / "label-studio"
TOKEN = "footfall-test-token-0123456789abcdef"


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    token: str
    files_root: Path
    port: int


@contextmanager
def label_studio() -> Iterator[LabelStudioServer]:
    """Start Label Studio with a user and a legacy API token created non-interactively; stop it after."""
    if not BINARY.exists():
        raise RuntimeError(f"{BINARY} not found: run scripts/setup.sh (it builds .venv-labelstudio)")
    root = Path(tempfile.mkdtemp(prefix="footfall-ls-"))
    files = root / "files"
    files.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    log = open(root / "server.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            str(BINARY),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(root / "data"),
            "--username",
            "annotator@footfall.local",
            "--password",
            "footfall-pass-1",
            "--user-token",
            TOKEN,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Label Studio did not start; see {root / 'server.log'}")
            time.sleep(1)
        yield LabelStudioServer(url, TOKEN, files, port)
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
