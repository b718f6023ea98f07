"""Stored XSS: class, camera and line names come from count databases (a chain's central copy merges
the stores' files, and a model's class names come from the registry); the dashboard shows them as
text, never as markup. Real headless Chromium against ``footfall serve``."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.edge.store import CountStore
from tests.dashboard.test_browser import browser, start, stop, wait_http  # noqa: F401 (the fixture)
from tests.dashboard.test_queries import ev
from tests.helpers import free_port

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=\"document.body.dataset.owned='yes'\">"
T0 = 1795428000.0  # 2026-11-23 10:00 UTC


def test_hostile_names_are_shown_as_text(browser, tmp_path: Path) -> None:  # noqa: F811
    db = tmp_path / "footfall.db"
    with CountStore(db) as store:
        store.commit(
            "s1",
            [
                ev(T0, "in", 1, cls="male_adult", camera="front", line="door"),
                ev(T0 + 60, "in", 2, cls=EVIL, camera="front", line=EVIL),
                ev(T0 + 120, "out", 3, cls=EVIL, camera=EVIL, line="door"),
            ],
        )
    port = free_port()
    server = start("serve", "--db", str(db), "--port", str(port), "--timezone", "UTC", log=tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health")
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        page.wait_for_timeout(500)  # an onerror handler would have run by now
        assert page.evaluate("document.body.dataset.owned") is None, "a name ran as markup"
        assert page.locator("img").count() == 0
        shown = page.inner_text("body")
        assert "<img src=x" in shown, "the hostile name is shown, as text"
        page.close()
    finally:
        stop(server)
