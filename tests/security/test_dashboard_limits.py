"""Requests the dashboard must refuse instead of spending minutes and megabytes on (or a 500): every
route bounds the work one request can ask for, and says what to ask instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from footfall.dashboard.app import Settings, create_app
from footfall.edge.store import CountStore
from tests.dashboard.test_queries import BERLIN, at, ev


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    db = tmp_path / "footfall.db"
    with CountStore(db) as s:
        s.commit("s1", [ev(at("2026-11-23", "10:00"), "in", 1), ev(at("2026-11-23", "10:20"), "out", 1)])
    return TestClient(create_app(Settings(db=db, tz=BERLIN)))


def test_a_year_of_five_minute_buckets_is_refused_with_what_to_ask(client: TestClient) -> None:
    r = client.get("/api/counts", params={"start": "2025-11-23", "end": "2026-11-23", "interval": 300})
    assert r.status_code == 400, f"{len(r.content)} bytes answered"
    assert "3600" in r.json()["error"]  # the fix: a coarser interval
    ok = client.get("/api/counts", params={"start": "2025-11-23", "end": "2026-11-23", "interval": 3600})
    assert ok.status_code == 200 and len(ok.content) < 2_000_000


def test_an_occupancy_interval_that_is_not_offered_is_refused(client: TestClient) -> None:
    r = client.get("/api/occupancy", params={"day": "2026-11-23", "interval": 7})
    assert r.status_code == 400 and "choose one of" in r.json()["error"]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_day_at_the_end_of_the_calendar_is_a_400_not_a_500(client: TestClient, day: str) -> None:
    for path, params in (
        ("/api/counts", {"start": day, "end": day}),
        ("/api/occupancy", {"day": day}),
        ("/api/summary", {"day": day}),
        ("/api/dwell", {"start": day, "end": day}),
    ):
        r = client.get(path, params=params)
        assert r.status_code == 400, (path, r.status_code, r.text[:200])


def test_dwell_over_a_year_is_refused(client: TestClient) -> None:
    r = client.get("/api/dwell", params={"start": "2025-11-01", "end": "2026-11-23"})
    assert r.status_code == 400 and "days" in r.json()["error"]
