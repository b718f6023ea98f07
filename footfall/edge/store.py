"""Crash-safe storage of crossings and resume points in SQLite (WAL): the owner of the count database.

This module owns the schema and every write; ``footfall.edge.counts`` is the one read API over it
(``edge report``, the dashboard).

Every event is keyed by (camera, session, line, track_id, frame) and inserted with
``INSERT OR IGNORE``: replaying frames after a crash re-derives the same events and adds none twice.
A checkpoint (next frame, tracker state, counter state) is written in the same transaction as the
events up to it, so a restart resumes from a state consistent with what is stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from footfall.common.chain import ShippedCrossing
from footfall.common.redact import redact_url
from footfall.edge.types import CrossingEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    source TEXT NOT NULL,
    started_ts REAL NOT NULL,
    next_frame INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    tracker_state BLOB,
    counter_state BLOB,
    updated_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    camera TEXT NOT NULL,
    session TEXT NOT NULL,
    line TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    ts REAL NOT NULL,
    class TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out', 'uturn')),
    first_direction TEXT,
    model_version TEXT,
    PRIMARY KEY (camera, session, line, track_id, frame)
) WITHOUT ROWID;
-- covers the dashboard's event queries (occupancy, dwell): one range scan, no lookups into the table
DROP INDEX IF EXISTS events_by_time;
CREATE INDEX IF NOT EXISTS events_by_time_v2 ON events (ts, camera, line, class, direction);
"""

# Crossings per 15 minutes (epoch-aligned, so every local quarter-hour is one bucket in any real time
# zone), kept by a trigger in the same transaction as the events: a replayed (ignored) event fires no
# trigger, so the rollup can neither miss nor double a crossing. Charts read it instead of the events;
# lines_seen lists every camera/line that ever counted (a central copy has no config to ask).
ROLLUP_S = 900
_ROLLUP = (
    """CREATE TABLE counts_15m (
        bucket INTEGER NOT NULL,
        camera TEXT NOT NULL,
        line TEXT NOT NULL,
        class TEXT NOT NULL,
        direction TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (bucket, camera, line, class, direction)
    ) WITHOUT ROWID""",
    f"""INSERT INTO counts_15m
        SELECT CAST(ts / {ROLLUP_S} AS INTEGER) * {ROLLUP_S}, camera, line, class, direction, COUNT(*)
        FROM events GROUP BY 1, 2, 3, 4, 5""",
    "CREATE TABLE lines_seen (camera TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (camera, line)) WITHOUT ROWID",
    "INSERT INTO lines_seen SELECT DISTINCT camera, line FROM counts_15m",
    f"""CREATE TRIGGER events_rollup AFTER INSERT ON events BEGIN
        INSERT INTO counts_15m VALUES
            (CAST(NEW.ts / {ROLLUP_S} AS INTEGER) * {ROLLUP_S}, NEW.camera, NEW.line, NEW.class, NEW.direction, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
        INSERT OR IGNORE INTO lines_seen VALUES (NEW.camera, NEW.line);
    END""",
)


# The outbox: every stored crossing's key in the order it was stored (``seq``), for shipping to the
# chain's central store (``footfall.edge.ship``). Filled by a trigger in the same transaction as the
# crossing (a crash can neither skip nor repeat one); rows are deleted once the central store has acked
# them, and ``ship_state`` remembers the last acked seq (AUTOINCREMENT never reuses a seq).
_OUTBOX = (
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL, session TEXT NOT NULL, line TEXT NOT NULL, track_id INTEGER NOT NULL,
        frame INTEGER NOT NULL
    )""",
    "INSERT INTO outbox (camera, session, line, track_id, frame) "
    "SELECT camera, session, line, track_id, frame FROM events ORDER BY ts, camera, session, line, track_id, frame",
    "CREATE TABLE ship_state (target TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TRIGGER events_outbox AFTER INSERT ON events BEGIN
        INSERT INTO outbox (camera, session, line, track_id, frame)
            VALUES (NEW.camera, NEW.session, NEW.line, NEW.track_id, NEW.frame);
    END""",
)


_SHIPPED = (
    "seq", "camera", "session", "line", "track_id", "frame", "ts", "class_name", "direction", "first_direction",
    "model_version",
)  # fmt: skip


@dataclass(frozen=True)
class Session:
    """A counting session of one camera on one source; files resume from ``next_frame``."""

    session: str
    camera: str
    source: str
    started_ts: float
    next_frame: int
    finished: bool
    tracker_state: bytes | None
    counter_state: bytes | None


class CountStore:
    """SQLite store shared by every camera process of a device (WAL lets them write concurrently)."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed crossing survives power loss too, not only a killed process. Commits are
        # rare (a frame with a crossing, a checkpoint every few seconds), so the fsyncs are cheap.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        with self._tx() as db:  # a store from before the rollup gets it, filled from its events, once
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counts_15m'").fetchone():
                for statement in _ROLLUP:
                    db.execute(statement)
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone():
                for statement in _OUTBOX:
                    db.execute(statement)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CountStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def open_session(self, session: str, camera: str, source: str, started_ts: float) -> Session:
        """Return the stored session (to resume) or create it; the source is stored without credentials
        (the database travels to a central copy)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO sessions (session, camera, source, started_ts, updated_ts) VALUES (?,?,?,?,?)",
                (session, camera, redact_url(source), started_ts, time.time()),
            )
            row = db.execute(
                "SELECT session, camera, source, started_ts, next_frame, finished, tracker_state, counter_state "
                "FROM sessions WHERE session = ?",
                (session,),
            ).fetchone()
        return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])

    def restart_session(self, session: str) -> None:
        """Start a finished session over from frame 0 (its events stay and deduplicate the replay)."""
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET next_frame = 0, finished = 0, tracker_state = NULL, counter_state = NULL, "
                "updated_ts = ? WHERE session = ?",
                (time.time(), session),
            )

    def commit(
        self,
        session: str,
        events: Iterable[CrossingEvent],
        *,
        model_version: str | None = None,
        checkpoint: tuple[int, bytes | None, bytes | None] | None = None,
        finished: bool = False,
    ) -> int:
        """Store events (ignoring ones already stored) and optionally a checkpoint; return new rows."""
        rows = [
            (
                e.camera,
                session,
                e.line,
                e.track_id,
                e.frame,
                e.ts,
                e.class_name,
                e.direction.value,
                e.first_direction.value if e.first_direction else None,
                model_version,
            )
            for e in events
        ]
        with self._tx() as db:
            # rowcount counts the events inserted, not what the rollup trigger changed
            added = max(0, db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows).rowcount)
            if checkpoint is not None:
                next_frame, tracker_state, counter_state = checkpoint
                db.execute(
                    "UPDATE sessions SET next_frame = ?, tracker_state = ?, counter_state = ?, finished = ?, "
                    "updated_ts = ? WHERE session = ?",
                    (next_frame, tracker_state, counter_state, int(finished), time.time(), session),
                )
        return added

    # -- shipping to the central store (footfall.edge.ship) ----------------------------------------

    def outbox(self, limit: int) -> list[ShippedCrossing]:
        """The oldest crossings not acked by the central store yet, in storing order."""
        rows = self._db.execute(
            "SELECT o.seq, e.camera, e.session, e.line, e.track_id, e.frame, e.ts, e.class, e.direction, "
            "e.first_direction, e.model_version FROM outbox o JOIN events e USING (camera, session, line, track_id, "
            "frame) ORDER BY o.seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [ShippedCrossing(**dict(zip(_SHIPPED, r, strict=True))) for r in rows]

    def outbox_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def acked(self, target: str, seq: int) -> None:
        """The central store ``target`` has every crossing up to ``seq``: forget them from the outbox."""
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            db.execute(
                "INSERT INTO ship_state VALUES (?, ?) "
                "ON CONFLICT DO UPDATE SET acked_seq = MAX(acked_seq, excluded.acked_seq)",
                (target, seq),
            )

    def acked_seq(self, target: str) -> int:
        row = self._db.execute("SELECT acked_seq FROM ship_state WHERE target = ?", (target,)).fetchone()
        return int(row[0]) if row else 0

    def session_counts(self, session: str) -> dict[str, dict[str, dict[str, int]]]:
        """``counts[line][direction][class]`` of one session."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for line, direction, cls, n in self._db.execute(
            "SELECT line, direction, class, COUNT(*) FROM events WHERE session = ? GROUP BY 1, 2, 3", (session,)
        ):
            out.setdefault(line, {}).setdefault(direction, {})[cls] = n
        return out

    def events(self, session: str | None = None) -> list[tuple]:
        sql = "SELECT camera, session, line, track_id, frame, ts, class, direction FROM events"
        args: tuple = ()
        if session:
            sql += " WHERE session = ?"
            args = (session,)
        return self._db.execute(sql + " ORDER BY ts, camera, line, track_id", args).fetchall()
