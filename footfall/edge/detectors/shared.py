"""One detector for every camera of a device: a server process runs their pictures in batches.

Each camera keeps its own process for decoding, tracking and counting. It letterboxes its frame
(``common.letterbox``), sends the picture over a Unix socket (authenticated with a per-run key, in a
folder only the service's user can open) and post-processes the answer itself, so the detections are
those of the camera's own detector: same letterbox, same network (``onnx.OnnxModel``), same NMS.

The server never waits for a particular camera: it runs whatever pictures are waiting (and, with
``model.batch_wait_ms``, whatever arrives within that time), so a camera that stalls or dies slows
nobody. A camera whose answer does not come within ``model.shared_timeout_s`` — the server died, hung
or is restarting — counts on with its own copy of the model, and goes back to the shared one when
the server answers again (tried every ``RETRY_S``). The service restarts a dead server like a camera.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from footfall.edge.detectors import ModelFileError, check_model_file
from footfall.edge.detectors.common import ModelInfo, YoloV5Backend, to_blob

if TYPE_CHECKING:
    from footfall.edge.config import ModelConfig
    from footfall.edge.detectors.onnx import OnnxModel

log = logging.getLogger(__name__)

RETRY_S = 10.0  # a camera on its own copy asks the shared detector again this often
IDLE_MODEL_S = 60.0  # a model no camera asked for in this long is unloaded (after a hot swap)


@dataclass(frozen=True)
class ServerAddress:
    """Where a camera finds the device's detector: a Unix socket and the key that opens it."""

    path: str
    authkey: bytes

    @classmethod
    def private(cls) -> ServerAddress:
        folder = tempfile.mkdtemp(prefix="footfall-detector-")  # mode 0700: only this user connects
        return cls(os.path.join(folder, "detector.sock"), os.urandom(32))

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.path))


# the messages between a camera and the server (pickled by multiprocessing.connection; both ends are
# processes of the same service, authenticated by the per-run key)
@dataclass(frozen=True)
class LoadRequest:
    path: str
    sha256: str | None
    model_names: tuple[str, ...] | None


@dataclass(frozen=True)
class InferRequest:
    """Followed on the connection by the letterboxed picture's bytes."""

    sha256: str  # which loaded model
    shape: tuple[int, int, int]
    conf_threshold: float


@dataclass(frozen=True)
class Loaded:
    info: ModelInfo


@dataclass(frozen=True)
class Inferred:
    rows: np.ndarray  # raw predictions with objectness above the camera's threshold


@dataclass(frozen=True)
class Refused:
    message: str
    model_error: bool = False  # the model file itself is bad (checksum, not loadable)


class SharedDetectorUnavailable(RuntimeError):
    """No answer from the shared detector in time, or the connection broke."""


@dataclass
class _Pending:
    conn: Connection
    request: InferRequest
    picture: np.ndarray


@dataclass
class _Load:
    conn: Connection
    request: LoadRequest


@dataclass
class _Model:
    model: OnnxModel
    last_used: float = field(default_factory=time.monotonic)


class DetectorServer:
    """Loads models on request and runs the waiting pictures of all cameras together.

    Each camera's connection is read by its own thread, so a camera that stops halfway through
    sending a picture holds up nobody; the main loop owns the models and runs the batches.
    """

    def __init__(self, address: ServerAddress, cfg: ModelConfig, stop: Any) -> None:
        self.address = address
        self.cfg = cfg
        self.stop = stop  # a threading or multiprocessing Event
        # batches run side by side, one core each: on a CPU two single-threaded runs of yolov5n do
        # more per second than one run on two threads (6.0 against 8.1 ms a picture, 2 cores)
        self.runners = cfg.threads or os.cpu_count() or 1
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()  # the models and the batch counts, shared by the runners
        self._inbox: queue.Queue[_Pending | _Load] = queue.Queue()
        self.batch_sizes: dict[int, int] = {}  # pictures in a run → how many runs

    def serve(self, ready: Any = None) -> None:
        listener = Listener(self.address.path, family="AF_UNIX", authkey=self.address.authkey)
        threading.Thread(target=self._accept, args=(listener,), name="detector-accept", daemon=True).start()
        runners = [
            threading.Thread(target=self._runner, name=f"detector-run-{i}", daemon=True) for i in range(self.runners)
        ]
        for runner in runners:
            runner.start()
        if ready is not None:
            ready.set()
        log.info("shared detector serving on %s (%d runners)", self.address.path, self.runners)
        try:
            for runner in runners:
                runner.join()
        finally:
            listener.close()

    def _runner(self) -> None:
        while not self.stop.is_set():
            try:
                self._step()
            except Exception:  # a runner never dies quietly: the cameras would wait for it
                log.exception("shared detector: a run failed")

    def _accept(self, listener: Listener) -> None:
        while not self.stop.is_set():
            try:
                conn = listener.accept()
            except OSError:  # closed at shutdown
                return
            except Exception as exc:  # a peer without the key: refused, the others go on
                log.warning("shared detector: refused a connection (%s)", exc)
                continue
            threading.Thread(target=self._read, args=(conn,), name="detector-camera", daemon=True).start()

    def _read(self, conn: Connection) -> None:
        """One camera's requests, whole, into the inbox; ends when the camera goes away."""
        try:
            while not self.stop.is_set():
                msg = conn.recv()
                if isinstance(msg, InferRequest):
                    raw = conn.recv_bytes()
                    self._inbox.put(_Pending(conn, msg, np.frombuffer(raw, np.uint8).reshape(msg.shape)))
                elif isinstance(msg, LoadRequest):
                    self._inbox.put(_Load(conn, msg))
                else:
                    raise TypeError(f"unexpected message {type(msg).__name__}")
        except (EOFError, OSError, TypeError, ValueError):  # the camera went away (or spoke nonsense)
            pass
        finally:
            conn.close()

    def _step(self) -> None:
        try:
            first = self._inbox.get(timeout=0.1)
        except queue.Empty:
            self._unload_idle()
            return
        items = [first]
        deadline = time.monotonic() + self.cfg.batch_wait_ms / 1000
        while sum(isinstance(i, _Pending) for i in items) < self.cfg.batch_max:
            try:  # what is waiting already, then what arrives before the deadline
                items.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        for item in items:
            if isinstance(item, _Load):
                self._send(item.conn, self._load(item.request))
        self._run([i for i in items if isinstance(i, _Pending)])
        self._unload_idle()

    def _load(self, req: LoadRequest) -> Loaded | Refused:
        with self._lock:
            return self._load_locked(req)

    def _load_locked(self, req: LoadRequest) -> Loaded | Refused:
        from footfall.edge.detectors.onnx import OnnxModel

        try:
            sha = check_model_file(Path(req.path), req.sha256)  # every camera's load checks the file
            known = self._models.get(sha)
            if known is not None and known.model.info.names == (req.model_names or known.model.info.names):
                known.last_used = time.monotonic()
                return Loaded(known.model.info)
            model = OnnxModel(
                Path(req.path), providers=self.cfg.providers, threads=1, sha256=sha, model_names=req.model_names
            )
        except ModelFileError as exc:
            return Refused(str(exc), model_error=True)
        entry = self._models[model.info.sha256] = _Model(model)
        log.info("shared detector: model %s loaded (%d in memory)", model.info.model_version, len(self._models))
        return Loaded(entry.model.info)

    def _run(self, pending: list[_Pending]) -> None:
        groups: dict[tuple[str, tuple[int, int, int]], list[_Pending]] = {}
        for p in pending:
            groups.setdefault((p.request.sha256, p.request.shape), []).append(p)
        for (sha, _), group in groups.items():
            entry = self._models.get(sha)
            if entry is None:
                for p in group:
                    self._send(p.conn, Refused(f"model {sha[:12]} is not loaded here"))
                continue
            entry.last_used = time.monotonic()
            for start in range(0, len(group), self.cfg.batch_max):
                chunk = group[start : start + self.cfg.batch_max]
                try:
                    out = entry.model.forward(to_blob([p.picture for p in chunk]))
                except Exception as exc:  # answered, never silent: the cameras fall back to their own copy
                    log.error("shared detector: inference failed (%s)", exc)
                    for p in chunk:
                        self._send(p.conn, Refused(f"inference failed: {exc}"))
                    continue
                with self._lock:
                    self.batch_sizes[len(chunk)] = self.batch_sizes.get(len(chunk), 0) + 1
                for i, p in enumerate(chunk):
                    self._send(p.conn, Inferred(out[i][out[i][:, 4] > p.request.conf_threshold]))

    @staticmethod
    def _send(conn: Connection, answer: Loaded | Inferred | Refused) -> None:
        with contextlib.suppress(OSError, ValueError):  # the camera went away: its reader thread ends
            conn.send(answer)

    def _unload_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            for sha, entry in list(self._models.items()):
                if now - entry.last_used > IDLE_MODEL_S:
                    del self._models[sha]
                    log.info("shared detector: model %s unloaded (unused)", entry.model.info.model_version)


class DetectorLink:
    """A camera's side: one connection to the shared detector, and its own copy of a model when needed."""

    def __init__(self, address: ServerAddress, timeout_s: float, retry_s: float = RETRY_S) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.fallbacks = 0  # times this camera had to count on with its own copy
        self._conn: Connection | None = None
        self._retry_at = 0.0
        self._local: dict[str, OnnxModel] = {}

    @property
    def shared(self) -> bool:
        return self._conn is not None

    def load(self, cfg: ModelConfig) -> ModelInfo:
        """Have the server load ``cfg.path`` (checked like a camera's own load); its own copy if unreachable."""
        request = LoadRequest(str(cfg.path), cfg.sha256, tuple(cfg.model_names) if cfg.model_names else None)
        try:
            answer = self._ask(request, lambda conn: conn.send(request))
        except SharedDetectorUnavailable as exc:
            self._fall_back(exc)
            return self._own(cfg, None).info
        if isinstance(answer, Refused):
            if answer.model_error:
                raise ModelFileError(answer.message)
            self._disconnect()
            self._fall_back(SharedDetectorUnavailable(answer.message))
            return self._own(cfg, None).info
        assert isinstance(answer, Loaded)
        return answer.info

    def infer(self, cfg: ModelConfig, info: ModelInfo, picture: np.ndarray, conf_threshold: float) -> np.ndarray:
        h, w, c = picture.shape
        request = InferRequest(info.sha256, (h, w, c), conf_threshold)

        def send(conn: Connection) -> None:
            conn.send(request)
            conn.send_bytes(picture.reshape(-1).data)

        if self._conn is not None or time.monotonic() >= self._retry_at:
            try:
                if self._conn is None:  # back to the shared detector: it may have restarted without the model
                    self._reload(cfg, info)
                answer = self._ask(request, send)
                if isinstance(answer, Inferred):
                    self._local.clear()  # its own copy is not needed any more
                    return answer.rows
                self._disconnect()  # e.g. the model was unloaded meanwhile: load it again on the way back
                raise SharedDetectorUnavailable(answer.message if isinstance(answer, Refused) else "bad answer")
            except SharedDetectorUnavailable as exc:
                self._fall_back(exc)
        return self._own(cfg, info).forward(to_blob([picture]))[0]

    def _reload(self, cfg: ModelConfig, info: ModelInfo) -> None:
        request = LoadRequest(str(cfg.path), info.sha256, tuple(cfg.model_names) if cfg.model_names else None)
        answer = self._ask(request, lambda conn: conn.send(request))
        if not isinstance(answer, Loaded) or answer.info.sha256 != info.sha256:
            raise SharedDetectorUnavailable("the shared detector could not load the model this camera runs")
        log.info("back on the shared detector")

    def _ask(self, request: Any, send: Any) -> Any:
        try:
            if self._conn is None:
                self._conn = Client(self.address.path, family="AF_UNIX", authkey=self.address.authkey)
            send(self._conn)
            if not self._conn.poll(self.timeout_s):
                raise SharedDetectorUnavailable(f"no answer within {self.timeout_s:g}s")
            return self._conn.recv()
        except SharedDetectorUnavailable:
            self._disconnect()
            raise
        except (OSError, EOFError, ValueError) as exc:  # refused, reset, closed, or the socket is gone
            self._disconnect()
            raise SharedDetectorUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # multiprocessing's AuthenticationError and the like
            self._disconnect()
            raise SharedDetectorUnavailable(str(exc)) from exc

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _fall_back(self, exc: Exception) -> None:
        if not self._local:
            self.fallbacks += 1
            log.warning("shared detector unavailable (%s): this camera counts on with its own copy of the model", exc)
        self._retry_at = time.monotonic() + self.retry_s

    def _own(self, cfg: ModelConfig, info: ModelInfo | None) -> OnnxModel:
        """This camera's own copy of the model ``info`` describes (None: whatever ``cfg.path`` holds now)."""
        from footfall.edge.detectors.onnx import OnnxModel

        if info is not None and info.sha256 in self._local:
            return self._local[info.sha256]
        model = OnnxModel(
            cfg.path, providers=cfg.providers, threads=cfg.threads, sha256=cfg.sha256, model_names=cfg.model_names
        )
        if info is not None and model.info.names != info.names:
            # the file changed under the running detector: the model watcher swaps it; until then
            # this camera cannot read the new model's answers with the old model's classes
            raise ModelFileError(f"{cfg.path} changed to a model with other classes while the shared detector was away")
        self._local = {model.info.sha256: model}
        if info is not None:
            self._local[info.sha256] = model
        return model

    def close(self) -> None:
        self._disconnect()
        self._local.clear()


class SharedDetector(YoloV5Backend):
    """A camera's detector whose network runs in the device's shared detector (``DetectorLink``)."""

    def __init__(
        self,
        cfg: ModelConfig,
        product_classes: Sequence[str],
        class_map: Mapping[str, str] | None,
        link: DetectorLink,
    ) -> None:
        self._cfg = cfg
        self.link = link
        self._info = link.load(cfg)
        self.sha256 = self._info.sha256
        self.stride = self._info.stride
        self.model_version = self._info.model_version
        self._fixed_hw = self._info.fixed_hw
        self._setup(
            self._info.names,
            product_classes,
            class_map,
            cfg.input_size,
            cfg.conf_threshold,
            cfg.iou_threshold,
            cfg.max_det,
        )

    def _infer(self, picture: np.ndarray) -> np.ndarray:
        return self.link.infer(self._cfg, self._info, picture, self.conf_threshold)


def serve_detector(cfg: ModelConfig, address: ServerAddress, stop: Any, ready: Any) -> None:
    """A service's detector process: serve until ``stop`` (an event) is set."""
    with contextlib.suppress(OSError):
        os.unlink(address.path)  # a socket left by a server that was killed
    DetectorServer(address, cfg, stop).serve(ready)
