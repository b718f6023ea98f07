"""One query path, two backends: a store's pages read from the chain's PostgreSQL answer exactly what the
device's SQLite answers for the same crossings; the chain view ranks stores by their entrance lines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from footfall.central.db import StoreInfo, add_device, connect, put_store
from footfall.central.ingest import ingest
from footfall.central.reader import CentralReader, Chain
from footfall.common.chain import Batch
from footfall.dashboard.app import Settings, create_app
from footfall.dashboard.queries import Filter, Store
from footfall.edge.counts import CountReader
from footfall.edge.store import CountStore
from tests.dashboard.test_queries import BERLIN, at, ev

pytestmark = pytest.mark.slow


def crossings_of(day: str, seed: int, n: int = 400) -> list:
    """Crossings of one store's day over two cameras, three lines, three classes (deterministic)."""
    out = []
    for k in range(n):
        minute = (k * 37 + seed * 11) % (14 * 60)
        hhmm = f"{7 + minute // 60:02d}:{minute % 60:02d}"
        camera, line = (("front", "door"), ("front", "inner"), ("back", "door"))[k % 3]
        direction = ("in", "in", "out", "uturn", "out")[(k + seed) % 5]
        cls = ("child", "female_adult", "male_adult")[(k // 3) % 3]
        out.append(ev(at(day, hhmm) + k % 60, direction, 1000 * seed + k // 2, cls, line=line, camera=camera))
    return out


def ship_all(db: Path, dsn: str, token: str, device: str) -> None:
    """What 'edge ship' sends, sent straight to the ingest (the HTTP leg has its own test)."""
    with CountStore(db) as store, connect(dsn) as con:
        while pending := store.outbox(1000):
            ack = ingest(con, token, Batch(device=device, sent_ts=0, crossings=pending))
            store.acked("test", ack.acked_seq)


@pytest.fixture
def both(tmp_path: Path, central_dsn: str) -> tuple[Store, Store, str]:
    """The same store on its device (SQLite) and in the chain (PostgreSQL)."""
    db = tmp_path / "footfall.db"
    with CountStore(db) as s:
        for k, day in enumerate(("2026-03-28", "2026-03-29", "2026-03-30", "2026-04-05")):  # over the DST change
            s.commit(f"s{k}", crossings_of(day, k))
    entrances = ["front/door", "back/door"]
    with connect(central_dsn) as con:
        put_store(
            con, StoreInfo("berlin", region="DE", timezone="Europe/Berlin", opening_hour=8, entrances=tuple(entrances))
        )
        token = add_device(con, "berlin", "dev")
    ship_all(db, central_dsn, token, "dev")
    device = Store(CountReader(db), BERLIN, 8, entrances)
    chain = Store(CentralReader(central_dsn, "berlin"), BERLIN, 8, entrances)
    return device, chain, central_dsn


def test_every_page_query_answers_the_same_over_both_backends(both) -> None:
    device, chain, _ = both
    d0, d1 = date(2026, 3, 28), date(2026, 3, 30)
    assert device.data_range() == chain.data_range()
    assert device.cameras() == chain.cameras()
    for interval in (300, 900, 3600, 86400):
        for groups in ((), ("class",), ("camera", "line", "class")):
            assert device.counts(d0, d1, interval, groups) == chain.counts(d0, d1, interval, groups)
    flt = Filter(cameras=("front",), classes=("child",))
    assert device.counts(d0, d1, 900, ("line",), flt) == chain.counts(d0, d1, 900, ("line",), flt)
    assert device.counts(d0, d1, 3600, ("line",), every_line=True) == chain.counts(
        d0, d1, 3600, ("line",), every_line=True
    )
    assert list(device.csv_rows(d0, d1, 900)) == list(chain.csv_rows(d0, d1, 900))
    for d in (d0, date(2026, 3, 29), date(2026, 4, 5)):
        assert device.occupancy(d, 900) == chain.occupancy(d, 900)
        assert device.summary(d, 3600) == chain.summary(d, 3600)
    assert device.dwell(d0, date(2026, 4, 5)) == chain.dwell(d0, date(2026, 4, 5))
    assert device.counts(d0, d1, 3600, ())["totals"]["in"] > 0  # the comparison compared something


def test_the_chain_ranks_stores_by_their_entrances(both, tmp_path: Path) -> None:
    _, _, dsn = both
    with connect(dsn) as con:  # two more stores: one busier, one in another region and zone
        put_store(con, StoreInfo("hamburg", region="DE", timezone="Europe/Berlin", entrances=("cam/door",)))
        put_store(con, StoreInfo("lisbon", region="PT", timezone="Europe/Lisbon"))
        tokens = {s: add_device(con, s, f"dev-{s}") for s in ("hamburg", "lisbon")}
    day = "2026-03-30"
    with connect(dsn) as con:  # a zone half an hour off UTC: its local hours are read from the quarter-hours
        put_store(con, StoreInfo("kolkata", region="IN", timezone="Asia/Kolkata"))
        tokens["kolkata"] = add_device(con, "kolkata", "dev-kolkata")
    for store, n_door, n_other in (("hamburg", 600, 900), ("lisbon", 50, 0), ("kolkata", 70, 0)):
        db = tmp_path / f"{store}.db"
        with CountStore(db) as s:
            tz = ZoneInfo("Asia/Kolkata") if store == "kolkata" else BERLIN  # Lisbon's 10:00 is Berlin's 11:00
            events = [ev(at(day, "10:00", tz) + k, "in", k, line="door", camera="cam") for k in range(n_door)]
            events += [ev(at(day, "11:00") + k, "in", 10_000 + k, line="aisle", camera="cam") for k in range(n_other)]
            s.commit("s", events)
        ship_all(db, dsn, tokens[store], f"dev-{store}")
    overview = Chain(dsn).overview(date(2026, 3, 30))
    ranked = [(s["store"], s["in"]) for s in overview["stores"]]
    berlin_in = Store(CentralReader(dsn, "berlin"), BERLIN, 8, ["front/door", "back/door"]).counts(
        date(2026, 3, 30), date(2026, 3, 30), 86400, ()
    )["totals"]["in"]
    # hamburg's 900 aisle crossings are no visitors; lisbon names no entrance, so its one line counts
    assert ranked == sorted(
        [("hamburg", 600), ("berlin", berlin_in), ("lisbon", 50), ("kolkata", 70)], key=lambda x: -x[1]
    )
    assert overview["chain"]["in"] == 600 + berlin_in + 50 + 70
    assert overview["regions"]["IN"]["in"][10] == 70  # at 10:00 Kolkata time
    de = overview["regions"]["DE"]
    assert sum(de["in"]) == 600 + berlin_in and de["in"][10] >= 600  # hamburg's crossings at 10:00 local
    assert sum(overview["regions"]["PT"]["in"]) == 50
    berlin = next(s for s in overview["stores"] if s["store"] == "berlin")
    week_before = Store(CentralReader(dsn, "berlin"), BERLIN, 8, ["front/door", "back/door"]).counts(
        date(2026, 3, 23), date(2026, 3, 23), 86400, ()
    )["totals"]["in"]
    assert berlin["last_week_in"] == week_before
    later = Chain(dsn).overview(date(2026, 4, 6))  # a week after 2026-03-30: compared with it
    assert next(s for s in later["stores"] if s["store"] == "hamburg")["last_week_in"] == 600


def test_the_dashboard_serves_the_chain_and_each_store_over_postgresql(both) -> None:
    device, _, dsn = both
    c = TestClient(create_app(Settings(db=None, tz=BERLIN, central=dsn)))
    assert c.get("/", follow_redirects=False).headers["location"] == "/chain"
    assert c.get("/chain").status_code == 200
    chain = c.get("/api/chain", params={"day": "2026-03-30"}).json()
    assert chain["stores"][0]["store"] == "berlin"
    params = {"store": "berlin", "start": "2026-03-29", "interval": 3600}
    got = c.get("/api/counts", params=params).json()
    assert got == device.counts(date(2026, 3, 29), date(2026, 3, 29), 3600, ("class",))
    csv = c.get("/api/counts.csv", params=params).text.splitlines()
    assert csv[1:] == [",".join(r) for r in list(device.csv_rows(date(2026, 3, 29), date(2026, 3, 29), 3600))[1:]]
    assert c.get("/api/meta", params={"store": "berlin"}).json()["entrances"] == ["front/door", "back/door"]
    assert c.get("/api/counts", params={"store": "nowhere"}).status_code == 404
    missing = c.get("/api/counts")
    assert missing.status_code == 400 and "store=" in missing.json()["error"]
    occupancy = c.get("/api/occupancy", params={"store": "berlin", "day": "2026-03-29"}).json()
    assert occupancy == device.occupancy(date(2026, 3, 29), 900)
