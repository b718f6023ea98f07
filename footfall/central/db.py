"""The central store's database: connection, schema migrations, the catalogue, status and retention.

Migrations are plain SQL files (``migrations/NNN_name.sql``), applied in order, each in one transaction
with its row in ``schema_migrations``: PostgreSQL runs DDL in transactions, so a failed migration leaves
nothing half-done. Plain SQL rather than a migration tool because the schema uses what an ORM layer
would hide (declarative partitions, arrays, ``ON CONFLICT`` rollups), the operators' tools (``psql``,
``pg_dump``) read it as it is, and it adds no dependency to the device or server environments.
"""

from __future__ import annotations

import hashlib
import queue
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from footfall.common.config import NAME_PATTERN
from footfall.common.redact import redact_url

MIGRATIONS = Path(__file__).parent / "migrations"
DSN_ENV = "FOOTFALL_CENTRAL_DSN"


class CentralError(RuntimeError):
    """A catalogue or database problem, said with its fix."""


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A connection with JIT compilation off: PostgreSQL compiles any plan above ``jit_above_cost``, which
    a day of a 50-store chain already is, and the compiling costs ~200 ms on queries that run in 10–30 ms
    (measured with bench/central.py: docs/experiments.md)."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10, options="-c jit=off")
    except psycopg.OperationalError as exc:
        raise CentralError(f"cannot connect to the central store {redact_url(dsn)}: {exc}".strip()) from None


def migrations() -> list[tuple[int, str, Path]]:
    out = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        m = re.fullmatch(r"(\d{3})_([a-z0-9_]+)\.sql", path.name)
        if not m:
            raise CentralError(f"migration file {path.name}: name it NNN_name.sql")
        out.append((int(m.group(1)), m.group(2), path))
    return out


def migrate(dsn: str) -> list[str]:
    """Apply the migrations not applied yet, in order; return their names. Safe to run again (and by two
    operators at once: an advisory lock serialises them)."""
    applied: list[str] = []
    with connect(dsn) as con:
        con.execute("SELECT pg_advisory_xact_lock(hashtext('footfall-migrate'))")
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {v for (v,) in con.execute("SELECT version FROM schema_migrations")}
        for version, name, path in migrations():
            if version in done:
                continue
            con.execute(path.read_text())  # our own file, not user input
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied.append(f"{version:03d}_{name}")
    return applied


def schema_version(con: psycopg.Connection) -> int:
    try:
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except psycopg.errors.UndefinedTable:
        con.rollback()
        return 0
    return int(row[0] or 0) if row else 0


def require_schema(con: psycopg.Connection) -> None:
    want = migrations()[-1][0]
    have = schema_version(con)
    if have < want:
        raise CentralError(
            f"the central store is at schema {have}, this footfall needs {want}: run 'footfall central migrate'"
        )


class Pool:
    """A few open connections to one database, reused (a connection costs ~5 ms); one that failed or was
    left mid-transaction is dropped, so a restarted server gets fresh ones. ``Pool.of(dsn)``: one per DSN
    in a process (the ingest server, the dashboard's readers)."""

    _pools: ClassVar[dict[str, Pool]] = {}
    _lock = threading.Lock()

    def __init__(self, dsn: str, size: int = 8) -> None:
        self.dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue(size)

    @classmethod
    def of(cls, dsn: str) -> Pool:
        with cls._lock:
            return cls._pools.setdefault(dsn, cls(dsn))

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            con = self._idle.get_nowait()
        except queue.Empty:
            con = connect(self.dsn)
        try:
            yield con
        except psycopg.Error:
            con.close()
            raise
        if con.closed or con.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            con.close()
            return
        try:
            self._idle.put_nowait(con)
        except queue.Full:
            con.close()


# -- the catalogue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreInfo:
    """A store of the chain as the catalogue has it."""

    store: str
    name: str = ""
    region: str = ""
    timezone: str = "UTC"
    opening_hour: int = 0
    closing_hour: int = 24
    tags: tuple[str, ...] = ()
    entrances: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(NAME_PATTERN, self.store):
            raise CentralError(f"store id {self.store!r}: use letters, digits, _ . - (no leading dot)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CentralError(
                f"store {self.store}: timezone {self.timezone!r} is no IANA zone (e.g. Europe/Berlin)"
            ) from None
        if not 0 <= self.opening_hour < self.closing_hour <= 24:
            raise CentralError(
                f"store {self.store}: opening hour {self.opening_hour}, closing hour {self.closing_hour}: "
                "need 0 <= opening < closing <= 24"
            )
        bad = [e for e in self.entrances if e.count("/") != 1]
        if bad:
            raise CentralError(f"store {self.store}: entrances {bad}: write each as CAMERA/LINE")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_STORE_COLS = "store, name, region, timezone, opening_hour, closing_hour, tags, entrances"


def put_store(con: psycopg.Connection, info: StoreInfo) -> None:
    """Add a store or update its catalogue entry."""
    con.execute(
        f"INSERT INTO stores ({_STORE_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (store) DO UPDATE SET "
        "name = EXCLUDED.name, region = EXCLUDED.region, timezone = EXCLUDED.timezone, opening_hour = "
        "EXCLUDED.opening_hour, closing_hour = EXCLUDED.closing_hour, tags = EXCLUDED.tags, "
        "entrances = EXCLUDED.entrances",
        (
            info.store,
            info.name,
            info.region,
            info.timezone,
            info.opening_hour,
            info.closing_hour,
            list(info.tags),
            list(info.entrances),
        ),
    )


def _store(row: tuple) -> StoreInfo:
    return StoreInfo(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6]), tuple(row[7]))


def get_store(con: psycopg.Connection, store: str) -> StoreInfo | None:
    row = con.execute(f"SELECT {_STORE_COLS} FROM stores WHERE store = %s", (store,)).fetchone()
    return None if row is None else _store(row)


def list_stores(con: psycopg.Connection) -> list[StoreInfo]:
    return [_store(r) for r in con.execute(f"SELECT {_STORE_COLS} FROM stores ORDER BY store")]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_device(con: psycopg.Connection, store: str, device: str, *, replaces: str | None = None) -> str:
    """Register a device of ``store`` and return its new token (shown once; only its hash is kept).
    ``replaces``: a dead device whose cameras (and their history) the new one takes over; its token is revoked."""
    if not re.fullmatch(NAME_PATTERN, device):
        raise CentralError(f"device name {device!r}: use letters, digits, _ . - (no leading dot)")
    if get_store(con, store) is None:
        raise CentralError(f"no store {store!r} in the catalogue: add it first ('footfall central store add {store}')")
    if con.execute("SELECT 1 FROM devices WHERE device = %s", (device,)).fetchone():
        raise CentralError(
            f"device {device!r} exists: revoke it and add the new one under another name, with --replaces {device}"
        )
    token = secrets.token_urlsafe(32)
    con.execute(
        "INSERT INTO devices (device, store, token_sha256) VALUES (%s, %s, %s)", (device, store, token_hash(token))
    )
    if replaces is not None:
        old = con.execute("SELECT store FROM devices WHERE device = %s", (replaces,)).fetchone()
        if old is None or old[0] != store:
            raise CentralError(f"--replaces {replaces}: no such device of store {store}")
        con.execute("UPDATE cameras SET device = %s WHERE device = %s", (device, replaces))
        con.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE device = %s", (replaces,))
    return token


def revoke_device(con: psycopg.Connection, device: str) -> None:
    if (
        con.execute(
            "UPDATE devices SET revoked_at = now() WHERE device = %s AND revoked_at IS NULL", (device,)
        ).rowcount
        != 1
    ):
        raise CentralError(f"no active device {device!r} (see 'footfall central status')")


# -- status and retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceStatus:
    store: str
    device: str
    revoked: bool
    last_seen: float | None  # epoch seconds of its last request
    last_crossing: float | None  # the newest crossing ts of its cameras
    clock_skew_s: float | None
    last_acked_seq: int


def status(con: psycopg.Connection) -> list[DeviceStatus]:
    """Per device: when it last called, the newest crossing received from its cameras, its clock skew."""
    rows = con.execute(
        "SELECT d.store, d.device, d.revoked_at IS NOT NULL, extract(epoch FROM d.last_seen), "
        "(SELECT max(c.ts) FROM crossings c JOIN cameras k ON k.store = c.store AND k.camera = c.camera "
        " WHERE k.device = d.device AND c.store = d.store), d.last_clock_skew_s, d.last_acked_seq "
        "FROM devices d ORDER BY d.store, d.device"
    ).fetchall()
    return [DeviceStatus(r[0], r[1], r[2], _f(r[3]), _f(r[4]), _f(r[5]), int(r[6])) for r in rows]


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def partition_name(day: date) -> str:
    return f"crossings_{day:%Y%m%d}"


def ensure_partitions(con: psycopg.Connection, days: set[date]) -> None:
    """Create the day partitions of ``crossings`` that do not exist yet, in the caller's transaction (so a
    batch rolled back takes its new partition with it). Two ingests of one new day are serialised by an
    advisory lock; the second may still see the first's partition as missing (its catalogue snapshot is
    older than the first's commit), so its CREATE runs in a savepoint and "already exists" is success."""
    missing = _missing(con, days)
    if not missing:
        return
    con.execute("SELECT pg_advisory_xact_lock(hashtext('footfall-partitions'))")
    for d in missing:
        try:
            with con.transaction():  # a savepoint
                con.execute(
                    f"CREATE TABLE {partition_name(d)} PARTITION OF crossings "  # a name from a date
                    f"FOR VALUES FROM ('{d.isoformat()}') TO ('{(d + timedelta(days=1)).isoformat()}')"
                )
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            pass  # made by a concurrent ingest that committed first


def _missing(con: psycopg.Connection, days: set[date]) -> list[date]:
    rows = con.execute(
        "SELECT d FROM unnest(%s::date[]) d "
        "WHERE to_regclass('crossings_' || to_char(d, 'YYYYMMDD')) IS NULL ORDER BY d",
        (sorted(days),),
    ).fetchall()
    return [r[0] for r in rows]


def prune(con: psycopg.Connection, today: date | None = None) -> dict[str, int]:
    """Apply ``retention``: drop day partitions of crossings older than its days, delete older rollup rows."""
    today = today or date.fromtimestamp(time.time())
    days: dict[str, int] = dict(con.execute("SELECT tbl, days FROM retention").fetchall())
    cut = today - timedelta(days=days["crossings"])
    dropped = 0
    for (name,) in con.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'crossings'"
    ).fetchall():
        m = re.fullmatch(r"crossings_(\d{8})", name)
        if m and date(int(m.group(1)[:4]), int(m.group(1)[4:6]), int(m.group(1)[6:])) < cut:
            con.execute(f"DROP TABLE {name}")  # a name we made from a date
            dropped += 1
    deleted = 0
    for table in ("counts_15m", "counts_1h"):  # names of our own, not input
        cut_day = (today - timedelta(days=days[table])).toordinal() - date(1970, 1, 1).toordinal()
        deleted += con.execute(f"DELETE FROM {table} WHERE bucket < %s", (cut_day * 86400,)).rowcount
    deleted += con.execute(
        "DELETE FROM counts_1d WHERE day < %s", (today - timedelta(days=days["counts_1d"]),)
    ).rowcount
    return {"crossing_days_dropped": dropped, "rollup_rows_deleted": deleted}
