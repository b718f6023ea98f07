"""Hot swap of the detector when the model file (or the ``current`` symlink to it) changes.

The frame loop asks between two frames; a new model that fails to load or fails its checksum is
refused and the running one kept, so counting never stops for a bad release. A good model that counts
other classes (the flywheel's first model with the product classes replacing the COCO ``person``
model) cannot be swapped between frames — the counter's class votes are per class — so the watcher
raises ``ClassesChanged`` and the camera restarts with it (``footfall.edge.pipeline.run_camera``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from footfall.edge.config import ModelConfig
from footfall.edge.detectors import Detector, create_detector

log = logging.getLogger(__name__)


class ClassesChanged(Exception):
    """The new model counts other classes: the camera must restart to count with them."""

    def __init__(self, old: tuple[str, ...], new: tuple[str, ...], version: str) -> None:
        super().__init__(f"model {version} counts {list(new)}, the running one {list(old)}")
        self.old, self.new, self.version = old, new, version


def _fingerprint(path: str) -> tuple[str, float, int] | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return real, st.st_mtime, st.st_size


class ModelWatcher:
    """Polls ``cfg.path`` at most every ``check_every_s`` seconds; returns a new detector when it changed."""

    def __init__(
        self,
        cfg: ModelConfig,
        current: Detector,
        check_every_s: float = 2.0,
        create: Callable[[ModelConfig], Detector] = create_detector,
    ) -> None:
        self.cfg = cfg
        self._create = create
        self.current = current
        self.check_every_s = check_every_s
        self._seen = _fingerprint(str(cfg.path))
        self._next = time.monotonic() + check_every_s
        self.swaps = 0
        self.refusals = 0

    def poll(self) -> Detector | None:
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + self.check_every_s
        seen = _fingerprint(str(self.cfg.path))
        if seen is None or seen == self._seen:
            return None
        self._seen = seen  # a refused file is not retried until it changes again
        try:
            new = self._create(self.cfg)
        except Exception as exc:  # a broken release must never stop counting
            self.refusals += 1
            log.error("refusing new model %s (%s); keeping %s", seen[0], exc, self.current.model_version)
            return None
        if tuple(new.class_names) != tuple(self.current.class_names):
            log.warning(
                "new model %s counts classes %s, the running one %s: the camera restarts with it",
                new.model_version,
                list(new.class_names),
                list(self.current.class_names),
            )
            raise ClassesChanged(tuple(self.current.class_names), tuple(new.class_names), new.model_version)
        log.info("model swapped between frames: %s → %s", self.current.model_version, new.model_version)
        self.current = new
        self.swaps += 1
        return new
