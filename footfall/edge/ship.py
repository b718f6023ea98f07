"""Ship the device's crossings to the chain's central store (``footfall central serve``), exactly once.

The device's own count store is the buffer: its outbox (``footfall.edge.store``) holds every crossing
not acked yet, for as long as the central store is unreachable (days of outage cost a few MB). A batch
is forgotten only after the central store answered that it has it; a batch whose answer was lost is sent
again and the central store adds none of it twice (``footfall.common.chain``). Batches go out oldest
first, so each camera's crossings arrive in the order they were stored.

Failures: an unreachable or failing central store (connection error, 5xx) stops this round with nothing
forgotten, to be retried next round; a refusal (401 revoked token, 403/409 a device or camera the
catalogue gives to another, 422 a batch it cannot read) is a ``ShipRefused`` that says why, and also
forgets nothing: the operator fixes the catalogue and the next round ships the backlog.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from footfall.common.chain import INGEST_PATH, Ack, Batch, ShippedLine
from footfall.common.redact import redact_url
from footfall.edge.config import CentralConfig, EdgeConfig
from footfall.edge.store import CountStore

log = logging.getLogger(__name__)

TOKEN_ENV = "FOOTFALL_CENTRAL_TOKEN"


class ShipError(RuntimeError):
    """The central store could not be reached or failed; nothing was forgotten, retry later."""


class ShipRefused(ShipError):
    """The central store refused the batch (token, catalogue, format); says why and the fix."""


@dataclass(frozen=True)
class ShipResult:
    shipped: int  # crossings acked this round
    added: int  # of them new to the central store (the rest it had: resent after a lost answer)
    remaining: int  # still in the outbox
    seconds: float


@dataclass(frozen=True)
class Target:
    """Where and as whom this device ships."""

    url: str
    device: str
    token: str
    ca_file: Path | None = None
    batch: int = 5000
    timeout_s: float = 30.0

    @classmethod
    def of(cls, cfg: CentralConfig) -> Target:
        if cfg.url is None:
            raise ValueError("central.url is not set: give the address of 'footfall central serve'")
        token = cfg.token or os.environ.get(TOKEN_ENV)
        if not token:
            raise ValueError(
                f"central.token is not set: give the token from 'footfall central device add' in the config "
                f"or ${TOKEN_ENV}"
            )
        return cls(cfg.url.rstrip("/"), cfg.device, token, cfg.ca_file, cfg.batch)

    @property
    def name(self) -> str:
        """The key of this target's acked seq in the device's store."""
        return f"{redact_url(self.url)}#{self.device}"

    def post(self, batch: Batch) -> Ack:
        request = urllib.request.Request(
            self.url + INGEST_PATH,
            data=batch.model_dump_json().encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            method="POST",
        )
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=context) as resp:
                return Ack.model_validate_json(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:500]
            with contextlib.suppress(ValueError, AttributeError):
                body = json.loads(body).get("error", body)
            if exc.code >= 500 or exc.code == 429:
                raise ShipError(f"central store {redact_url(self.url)} answered {exc.code}: {body}") from None
            raise ShipRefused(f"central store {redact_url(self.url)} refused the batch ({exc.code}): {body}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ShipError(f"central store {redact_url(self.url)} not reachable: {exc}") from None


def lines_of(cfg: EdgeConfig) -> list[ShippedLine]:
    return [
        ShippedLine(camera=c.name, line=ln.name, points=ln.points, invert=ln.invert)
        for c in cfg.cameras
        for ln in c.lines
    ]


def ship(store: CountStore, target: Target, lines: list[ShippedLine]) -> ShipResult:
    """Send the outbox, oldest first, until it is empty; raise ``ShipError`` on the first failure (what was
    acked before it stays acked)."""
    t0 = time.monotonic()
    shipped = added = 0
    first = True
    while (pending := store.outbox(target.batch)) or first:
        batch = Batch(device=target.device, sent_ts=time.time(), crossings=pending, lines=lines if first else [])
        ack = target.post(batch)  # an empty first batch is the heartbeat and declares the lines
        first = False
        if not pending:
            break
        if ack.acked_seq != pending[-1].seq:
            raise ShipError(f"central store acked seq {ack.acked_seq}, expected {pending[-1].seq}; nothing forgotten")
        store.acked(target.name, ack.acked_seq)
        shipped += len(pending)
        added += ack.added
    return ShipResult(shipped, added, store.outbox_size(), time.monotonic() - t0)
