"""Ingest of one device batch into the central store: one transaction, exactly once.

In one transaction: the device is identified by its token (revoked or unknown: refused), the cameras of
the batch must be the device's own in the catalogue (a camera another device ships: refused), new line
geometry becomes a new line version, the crossings are inserted with ``ON CONFLICT DO NOTHING`` on their
idempotency key, and the rollups (quarter-hours by class; hours and store-local days without class, for the chain) are
raised by exactly the rows that were inserted (the ``RETURNING`` of that insert). Either all of it
commits, or nothing: a database restart mid-batch leaves no trace, and the device, which has no ack,
sends the batch again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg

from footfall.central.db import ensure_partitions, token_hash
from footfall.common.chain import Ack, Batch
from footfall.common.localtime import DAY_S


class Refused(Exception):
    """A batch the central store will not take; ``status`` is the HTTP status, the message the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Device:
    device: str
    store: str
    timezone: str  # the store's, from the catalogue


def authenticate(con: psycopg.Connection, token: str) -> Device:
    row = con.execute(
        "SELECT d.device, d.store, d.revoked_at IS NOT NULL, s.timezone FROM devices d JOIN stores s USING (store) "
        "WHERE d.token_sha256 = %s",
        (token_hash(token),),
    ).fetchone()
    if row is None:
        raise Refused(401, "unknown token: give the device's token from 'footfall central device add'")
    if row[2]:
        raise Refused(
            401, f"the token of device {row[0]} was revoked: issue a new one with 'footfall central device add'"
        )
    return Device(row[0], row[1], row[3])


def day_of(ts: float) -> date:
    return datetime.fromtimestamp(ts - ts % DAY_S, UTC).date()


def ingest(con: psycopg.Connection, token: str, batch: Batch) -> Ack:
    """Store ``batch`` from the device that ``token`` belongs to; commit, and return what the device may
    forget. Raise ``Refused`` (nothing stored)."""
    with con.transaction():
        dev = authenticate(con, token)
        if batch.device != dev.device:
            raise Refused(
                403, f"this token belongs to device {dev.device}, the batch says {batch.device}: fix central.device"
            )
        con.execute(
            "UPDATE devices SET last_seen = now(), last_clock_skew_s = %s - extract(epoch FROM clock_timestamp()) "
            "WHERE device = %s",
            (batch.sent_ts, dev.device),
        )
        cameras = {c.camera for c in batch.crossings} | {ln.camera for ln in batch.lines}
        _claim_cameras(con, dev, cameras)
        _record_lines(con, dev, batch)
        added = _insert(con, dev, batch) if batch.crossings else 0
        acked = batch.crossings[-1].seq if batch.crossings else 0
        if acked:
            con.execute(
                "UPDATE devices SET last_acked_seq = greatest(last_acked_seq, %s) WHERE device = %s",
                (acked, dev.device),
            )
    return Ack(acked_seq=acked, added=added, duplicates=len(batch.crossings) - added)


def _claim_cameras(con: psycopg.Connection, dev: Device, cameras: set[str]) -> None:
    """A camera belongs to the first device of its store that ships it; another device is refused."""
    for camera in sorted(cameras):
        con.execute(
            "INSERT INTO cameras (store, camera, device) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (dev.store, camera, dev.device),
        )
        owner = con.execute(
            "SELECT device FROM cameras WHERE store = %s AND camera = %s", (dev.store, camera)
        ).fetchone()[0]  # type: ignore[index]
        if owner != dev.device:
            raise Refused(
                409,
                f"camera {camera} of store {dev.store} is shipped by device {owner}, not {dev.device}: two devices "
                f"claim it. Rename one camera, or if {dev.device} replaces {owner}, register it with "
                f"'footfall central device add {dev.store} NEW --replaces {owner}'",
            )


def _record_lines(con: psycopg.Connection, dev: Device, batch: Batch) -> None:
    """A line whose geometry differs from its latest version gets a new version; a line known only from
    crossings gets a version without geometry."""
    declared = {(ln.camera, ln.line): ln for ln in batch.lines}
    seen = {(c.camera, c.line) for c in batch.crossings}
    for camera, line in sorted(set(declared) | seen):
        latest = con.execute(
            "SELECT version, points, invert FROM line_versions WHERE store = %s AND camera = %s AND line = %s "
            "ORDER BY version DESC LIMIT 1",
            (dev.store, camera, line),
        ).fetchone()
        shipped = declared.get((camera, line))
        if shipped is None and latest is not None:
            continue
        points = [list(p) for p in shipped.points] if shipped else None
        if latest is not None and shipped is not None and latest[1] == points and latest[2] == shipped.invert:
            continue
        if latest is not None and latest[1] is None and points is not None:  # geometry learnt for a bare line
            con.execute(
                "UPDATE line_versions SET points = %s, invert = %s WHERE store = %s AND camera = %s AND line = %s "
                "AND version = %s",
                (json.dumps(points), shipped.invert if shipped else False, dev.store, camera, line, latest[0]),
            )
            continue
        con.execute(
            "INSERT INTO line_versions (store, camera, line, version, points, invert) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                dev.store,
                camera,
                line,
                (latest[0] if latest else 0) + 1,
                None if points is None else json.dumps(points),
                shipped.invert if shipped else False,
            ),
        )


_COLUMNS = "store, camera, session, line, track_id, frame, ts, day, class, direction, first_direction, model_version"


def _insert(con: psycopg.Connection, dev: Device, batch: Batch) -> int:
    """Insert the crossings not stored yet and add exactly those to the rollup; return how many."""
    rows = [
        (dev.store, c.camera, c.session, c.line, c.track_id, c.frame, c.ts, day_of(c.ts), c.class_name, c.direction,
         c.first_direction, c.model_version)
        for c in batch.crossings
    ]  # fmt: skip
    ensure_partitions(con, {r[7] for r in rows})
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming AS SELECT {_COLUMNS} FROM crossings WITH NO DATA")
    con.execute("TRUNCATE incoming")
    with con.cursor().copy(f"COPY incoming ({_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur = con.execute(
        f"WITH ins AS (INSERT INTO crossings ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming ON CONFLICT DO NOTHING "
        "RETURNING store, camera, line, class, direction, ts), "
        "q AS (INSERT INTO counts_15m (store, bucket, camera, line, class, direction, n) "
        "  SELECT store, (floor(ts / 900) * 900)::bigint, camera, line, class, direction, count(*) FROM ins "
        "  GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 "
        "  ON CONFLICT (store, bucket, camera, line, class, direction) DO UPDATE SET n = counts_15m.n + EXCLUDED.n), "
        "h AS (INSERT INTO counts_1h (bucket, store, camera, line, direction, n) "
        "  SELECT (floor(ts / 3600) * 3600)::bigint, store, camera, line, direction, count(*) FROM ins "
        "  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 "
        "  ON CONFLICT (bucket, store, camera, line, direction) DO UPDATE SET n = counts_1h.n + EXCLUDED.n), "
        "d AS (INSERT INTO counts_1d (day, store, camera, line, direction, n) "
        "  SELECT (to_timestamp(ts) AT TIME ZONE %(tz)s)::date, store, camera, line, direction, count(*) FROM ins "
        "  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 "
        "  ON CONFLICT (day, store, camera, line, direction) DO UPDATE SET n = counts_1d.n + EXCLUDED.n) "
        "SELECT count(*) FROM ins",
        {"tz": dev.timezone},
    )
    return int(cur.fetchone()[0])  # type: ignore[index]
