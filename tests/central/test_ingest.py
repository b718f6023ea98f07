"""The ingest's bad inputs and failures, each against a real PostgreSQL: a batch sent twice, a week
replayed, a revoked or unknown token, two devices claiming one camera, a clock that jumps backwards, a
line the central store has never seen, a moved line, and the schema/retention operations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from footfall.central.db import (
    CentralError,
    StoreInfo,
    add_device,
    connect,
    migrate,
    prune,
    put_store,
    require_schema,
    revoke_device,
    status,
)
from footfall.central.ingest import Refused, ingest
from footfall.common.chain import Batch, ShippedCrossing, ShippedLine

DAY = 1_795_000_000.0


def crossing(seq: int, ts: float, camera: str = "front", line: str = "door", direction: str = "in") -> ShippedCrossing:
    return ShippedCrossing(
        seq=seq, camera=camera, session="s1", line=line, track_id=seq, frame=seq, ts=ts, class_name="child",
        direction=direction,
    )  # fmt: skip


def batch(device: str, crossings: list[ShippedCrossing], lines: list[ShippedLine] | None = None) -> Batch:
    return Batch(device=device, sent_ts=DAY, crossings=crossings, lines=lines or [])


@pytest.fixture
def chain(central_dsn: str) -> tuple[psycopg.Connection, dict[str, str]]:
    con = connect(central_dsn)
    put_store(con, StoreInfo("s1", region="north", entrances=("front/door",)))
    put_store(con, StoreInfo("s2", region="south"))
    tokens = {d: add_device(con, s, d) for d, s in (("a", "s1"), ("b", "s1"), ("c", "s2"))}
    con.commit()
    return con, tokens


def totals(con: psycopg.Connection) -> tuple[int, int]:
    rows = con.execute("SELECT count(*) FROM crossings").fetchone()[0]
    rollup = con.execute("SELECT coalesce(sum(n), 0) FROM counts_15m").fetchone()[0]
    return int(rows), int(rollup)


def test_a_batch_sent_twice_and_a_week_replayed_add_nothing(chain) -> None:
    con, tokens = chain
    week = [crossing(k + 1, DAY + k * 600) for k in range(7 * 144)]  # a week of crossings, one per 10 min
    first = ingest(con, tokens["a"], batch("a", week[:500]))
    assert (first.acked_seq, first.added, first.duplicates) == (500, 500, 0)
    again = ingest(con, tokens["a"], batch("a", week[:500]))  # the answer was lost: the device resends
    assert (again.acked_seq, again.added, again.duplicates) == (500, 0, 500)
    ingest(con, tokens["a"], batch("a", week[500:]))
    replay = ingest(con, tokens["a"], batch("a", week[100:900]))  # a restored device replays part of the week
    assert replay.added == 0
    assert totals(con) == (len(week), len(week))
    days = con.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'crossings'::regclass").fetchone()[0]
    assert days >= 7  # a partition per UTC day


def test_unknown_and_revoked_tokens_are_refused_with_nothing_stored(chain) -> None:
    con, tokens = chain
    with pytest.raises(Refused) as unknown:
        ingest(con, "not-a-token", batch("a", [crossing(1, DAY)]))
    assert unknown.value.status == 401 and "central device add" in str(unknown.value)
    revoke_device(con, "a")
    con.commit()
    with pytest.raises(Refused) as revoked:
        ingest(con, tokens["a"], batch("a", [crossing(1, DAY)]))
    assert revoked.value.status == 401 and "revoked" in str(revoked.value)
    with pytest.raises(Refused) as wrong_name:  # b's token, a's name
        ingest(con, tokens["b"], batch("a", [crossing(1, DAY)]))
    assert wrong_name.value.status == 403
    assert totals(con) == (0, 0)


def test_two_devices_claiming_one_camera_are_refused_until_one_replaces_the_other(chain) -> None:
    con, tokens = chain
    ingest(con, tokens["a"], batch("a", [crossing(1, DAY)]))
    with pytest.raises(Refused) as clash:
        ingest(con, tokens["b"], batch("b", [crossing(1, DAY + 1), crossing(2, DAY + 2, camera="back")]))
    assert clash.value.status == 409 and "--replaces a" in str(clash.value)
    assert totals(con) == (1, 1)  # nothing of b's batch, not even its other camera
    ingest(con, tokens["b"], batch("b", [crossing(2, DAY + 2, camera="back")]))  # its own camera is fine
    new = add_device(con, "s1", "a2", replaces="a")  # a died; a2 takes over its cameras
    con.commit()
    ingest(con, new, batch("a2", [crossing(3, DAY + 5)]))
    with pytest.raises(Refused):
        ingest(con, tokens["a"], batch("a", [crossing(9, DAY + 9)]))  # the old device's token is revoked
    assert totals(con) == (3, 3)
    # a device of another store may use the same camera name: its own store's camera
    ingest(con, tokens["c"], batch("c", [crossing(1, DAY)]))
    assert totals(con) == (4, 4)


def test_a_clock_jumping_backwards_loses_and_doubles_nothing_and_shows_as_skew(chain) -> None:
    con, tokens = chain
    ahead = [crossing(k + 1, DAY + 3600 + k) for k in range(10)]
    behind = [crossing(k + 11, DAY - 86400 * 3 + k) for k in range(10)]  # the clock went back 3 days
    ingest(con, tokens["a"], Batch(device="a", sent_ts=DAY + 10**6, crossings=ahead))
    ingest(con, tokens["a"], batch("a", behind))
    assert totals(con) == (20, 20)
    (a,) = [s for s in status(con) if s.device == "a"]
    assert a.last_crossing == DAY + 3609 and a.last_acked_seq == 20
    assert a.clock_skew_s is not None and abs(a.clock_skew_s) > 86400  # our test clock is not the device's


def test_lines_never_seen_and_moved_lines_become_versions(chain) -> None:
    con, tokens = chain
    ingest(con, tokens["a"], batch("a", [crossing(1, DAY, line="side")]))  # no line declared: kept, bare
    door = ShippedLine(camera="front", line="door", points=((10, 0), (10, 100)))
    side = ShippedLine(camera="front", line="side", points=((50, 0), (50, 100)))
    ingest(con, tokens["a"], batch("a", [], [door, side]))
    ingest(con, tokens["a"], batch("a", [], [door, side]))  # unchanged: no new version
    moved = ShippedLine(camera="front", line="door", points=((20, 0), (20, 100)))
    ingest(con, tokens["a"], batch("a", [crossing(2, DAY + 1)], [moved, side]))
    versions = con.execute(
        "SELECT line, version, points FROM line_versions WHERE store = 's1' ORDER BY line, version"
    ).fetchall()
    assert versions == [
        ("door", 1, [[10.0, 0.0], [10.0, 100.0]]),
        ("door", 2, [[20.0, 0.0], [20.0, 100.0]]),
        ("side", 1, [[50.0, 0.0], [50.0, 100.0]]),  # learnt after its crossings came
    ]
    assert totals(con) == (2, 2)


def test_malformed_batches_are_refused_by_the_record() -> None:
    with pytest.raises(ValueError, match="ts"):
        ShippedCrossing.model_validate({**crossing(1, DAY).model_dump(), "ts": float("nan")})
    with pytest.raises(ValueError, match="camera"):
        ShippedCrossing.model_validate({**crossing(1, DAY).model_dump(), "camera": "../x"})
    with pytest.raises(ValueError, match="direction"):
        ShippedCrossing.model_validate({**crossing(1, DAY).model_dump(), "direction": "sideways"})


def test_migrate_is_idempotent_and_an_old_schema_is_named(pg_server) -> None:
    dsn = pg_server.create_db("schema_check")
    with connect(dsn) as con, pytest.raises(CentralError, match="central migrate"):
        require_schema(con)
    assert migrate(dsn) == ["001_chain", "002_hourly", "003_local_days"] and migrate(dsn) == []


def test_prune_drops_old_days_only(chain) -> None:
    con, tokens = chain
    old, recent = DAY - 500 * 86400, DAY
    ingest(con, tokens["a"], batch("a", [crossing(1, old), crossing(2, recent)]))
    result = prune(con, today=date.fromtimestamp(DAY))
    assert result["crossing_days_dropped"] == 1
    assert con.execute("SELECT ts FROM crossings").fetchall() == [(recent,)]


def test_two_devices_opening_the_same_new_days_at_once_both_succeed(central_dsn: str) -> None:
    """Each new UTC day makes a partition; two ingests that make the same days at the same moment must
    both commit (the second sees 'already exists'), found by the chain benchmark."""
    import threading

    with connect(central_dsn) as con:
        put_store(con, StoreInfo("s1"))
        tokens = {d: add_device(con, "s1", d) for d in ("a", "b")}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def ship(device: str, camera: str) -> None:
        try:
            with connect(central_dsn) as con:
                for day in range(6):
                    barrier.wait(timeout=30)
                    rows = [crossing(100 * day + k + 1, DAY + 86400 * (day + 10) + k, camera=camera) for k in range(50)]
                    ingest(con, tokens[device], batch(device, rows))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ship, args=(d, c)) for d, c in (("a", "front"), ("b", "back"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with connect(central_dsn) as con:
        assert totals(con) == (600, 600)


def test_a_later_migration_fills_its_rollup_from_the_crossings_already_stored(pg_server) -> None:
    """A chain at schema 2 with crossings gets the daily rollup filled, by the store's local day."""
    from footfall.central.db import migrations

    dsn = pg_server.create_db("upgrade")
    with connect(dsn) as con:
        con.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for version, name, path in migrations()[:2]:
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        put_store(con, StoreInfo("tokyo", timezone="Asia/Tokyo"))
        con.execute(
            "CREATE TABLE crossings_20261118 PARTITION OF crossings FOR VALUES FROM ('2026-11-18') TO ('2026-11-19')"
        )
        for k, hour in enumerate((10, 16, 23)):  # 23:00 UTC is the next day in Tokyo
            ts = datetime(2026, 11, 18, hour, tzinfo=UTC).timestamp()
            con.execute(
                "INSERT INTO crossings (store, camera, session, line, track_id, frame, ts, day, class, direction) "
                "VALUES ('tokyo', 'cam', 's', 'door', %s, %s, %s, '2026-11-18', 'child', 'in')",
                (k, k, ts),
            )
    assert migrate(dsn) == ["003_local_days"]
    with connect(dsn) as con:
        days = con.execute("SELECT day, n FROM counts_1d ORDER BY day").fetchall()
    assert days == [(date(2026, 11, 18), 1), (date(2026, 11, 19), 2)]  # 10:00 UTC is 19:00 in Tokyo
