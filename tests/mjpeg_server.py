"""A local MJPEG-over-HTTP camera for stream tests: serves real frames, can drop and come back."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2


class MjpegCamera:
    """Serves ``video`` as multipart/x-mixed-replace at ``fps`` on 127.0.0.1.

    ``drop_after`` frames per connection, the connection is cut (as a flaky camera does);
    ``down()``/``up()`` refuse or accept new connections.
    """

    def __init__(
        self, video: Path, fps: float = 25.0, drop_after: int | None = None, first: int = 0, count: int = 200
    ) -> None:
        cap = cv2.VideoCapture(str(video))
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        self.jpegs = []
        while len(self.jpegs) < count:
            ok, frame = cap.read()
            if not ok:
                break
            self.jpegs.append(cv2.imencode(".jpg", frame)[1].tobytes())
        cap.release()
        self.fps = fps
        self.drop_after = drop_after
        self.connections = 0
        self.frames_sent = 0
        self._available = threading.Event()
        self._available.set()
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not cam._available.is_set():
                    self.send_error(503)
                    return
                cam.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                sent = 0
                try:
                    while cam._available.is_set():
                        jpg = cam.jpegs[cam.frames_sent % len(cam.jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(jpg)}\r\n\r\n".encode() + jpg + b"\r\n")
                        cam.frames_sent += 1
                        sent += 1
                        if cam.drop_after and sent >= cam.drop_after:
                            break
                        time.sleep(1 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"

    def __enter__(self) -> MjpegCamera:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._available.clear()
        self.server.shutdown()
        self.server.server_close()

    def down(self) -> None:
        self._available.clear()

    def up(self) -> None:
        self._available.set()
