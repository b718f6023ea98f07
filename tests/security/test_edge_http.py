"""The edge's HTTP endpoint (/metrics, /health, /live) against clients that hold connections, probe for
camera names or crowd the live view: a real server on 127.0.0.1, real sockets."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from footfall.edge.http import MAX_LIVE_VIEWERS, allowed, serve
from footfall.edge.live import LiveHub
from tests.helpers import free_port

TOKEN = "edge-token-0123456789abcdef"


@pytest.fixture
def endpoint() -> Iterator[tuple[int, LiveHub]]:
    hub = LiveHub({"door": threading.Event()})
    port = free_port()
    server = serve("127.0.0.1", port, dict, lambda: {"status": "ok"}, hub, TOKEN, timeout_s=1.0)
    stop = threading.Event()

    def frames() -> None:  # a camera producing frames
        while not stop.is_set():
            hub.put("door", b"\xff\xd8jpeg\xff\xd9")
            time.sleep(0.05)

    feeder = threading.Thread(target=frames, daemon=True)
    feeder.start()
    yield port, hub
    stop.set()
    server.shutdown()
    server.server_close()


def _get(port: int, path: str, token: str | None = None) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_silent_connection_is_dropped(endpoint: tuple[int, LiveHub]) -> None:
    """A client that connects and sends nothing must not hold a thread forever."""
    port, _ = endpoint
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        t0 = time.monotonic()
        assert s.recv(1) == b"", "the server closes the idle connection"
        assert time.monotonic() - t0 < 4


def test_camera_names_cannot_be_probed_without_the_token(endpoint: tuple[int, LiveHub]) -> None:
    port, _ = endpoint
    assert _get(port, "/live/door.jpg") == _get(port, "/live/no-such-camera.jpg") == 401
    assert _get(port, "/live/no-such-camera.jpg", TOKEN) == 404
    assert _get(port, "/live/door.jpg", TOKEN) == 200


def test_the_live_view_has_a_viewer_cap(endpoint: tuple[int, LiveHub]) -> None:
    port, _ = endpoint
    streams = []
    try:
        for _ in range(MAX_LIVE_VIEWERS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(f"GET /live/door.mjpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
            assert s.recv(64).startswith(b"HTTP/1.0 200")
            streams.append(s)
        assert _get(port, "/live/door.mjpg", TOKEN) == 503
        assert _get(port, "/health") == 200, "health still answers while the live view is full"
    finally:
        for s in streams:
            s.close()


@pytest.mark.parametrize(
    ("path", "client", "auth", "expected"),
    [
        ("/health", "127.0.0.1", None, True),  # the device itself, the Ansible health check
        ("/metrics", "::1", None, True),
        ("/health", "10.0.0.7", None, False),  # another machine needs the token
        ("/metrics", "10.0.0.7", f"Bearer {TOKEN}", True),
        ("/metrics", "10.0.0.7", "Bearer wrong-token-wrong-token", False),
        ("/live/door.mjpg", "127.0.0.1", None, False),  # with a token set, the live view always needs it
    ],
)
def test_who_may_read_what(path: str, client: str, auth: str | None, expected: bool) -> None:
    assert allowed(path, client, auth, TOKEN) is expected


def test_without_a_token_only_loopback_clients_are_answered() -> None:
    assert allowed("/health", "127.0.0.1", None, None)
    assert not allowed("/health", "192.168.1.20", None, None)
    assert not allowed("/live/door.mjpg", "192.168.1.20", None, None)
