"""Error paths of the Label Studio client that a real server cannot be made to hit on cue (the server's
own behaviour is exercised against a real Label Studio in tests/harvest/test_labelstudio.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from footfall.labeling.studio import Studio


@dataclass
class _Page:
    items: list[dict[str, Any]]
    has_next: bool = False
    get_next: Any = None


@dataclass
class _SlowServer:
    """Commits an import it timed out on only when the next request arrives — after the client read the
    project back and found nothing (the race of an import that times out while the server commits)."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    late: list[dict[str, Any]] | None = None
    deleted: list[int] = field(default_factory=list)

    def _commit(self, request: list[dict[str, Any]]) -> None:
        for t in request:
            self.tasks.append({"id": len(self.tasks) + 1, "data": t["data"], "annotations": []})

    def import_tasks(self, *, id: int, request: list[dict[str, Any]], return_task_ids: bool) -> None:
        if self.late is None and not self.tasks:
            self.late = request
            raise httpx.ReadTimeout("timed out")
        if self.late is not None:
            self._commit(self.late)
            self.late = None
        self._commit(request)

    def list(self, **_: Any) -> _Page:
        return _Page([dict(t) for t in self.tasks])

    def delete(self, *, id: str) -> None:
        self.deleted.append(int(id))
        self.tasks = [t for t in self.tasks if t["id"] != int(id)]


def test_an_import_the_server_commits_after_the_retry_read_is_not_left_twice() -> None:
    server = _SlowServer()
    studio = Studio("http://127.0.0.1:1", "token", retries=3, backoff_s=0.0)
    studio.client = type("Client", (), {})()
    studio.client.projects = type("P", (), {"import_tasks": staticmethod(server.import_tasks)})()
    studio.client.tasks = type("T", (), {"list": staticmethod(server.list), "delete": staticmethod(server.delete)})()
    tasks = [{"data": {"item_id": f"i{n}"}} for n in range(3)]
    studio.import_tasks(7, tasks)
    assert sorted(t["data"]["item_id"] for t in server.tasks) == ["i0", "i1", "i2"]
    assert server.deleted == [4, 5, 6]  # the re-sent copies; the first (oldest) ones stay


def test_settle_keeps_every_copy_an_annotator_worked_on() -> None:
    server = _SlowServer()
    server.tasks = [
        {"id": 1, "data": {"item_id": "a"}, "annotations": []},
        {"id": 2, "data": {"item_id": "a"}, "annotations": [{"id": 9}]},
        {"id": 3, "data": {"item_id": "b"}, "annotations": [{"id": 10}]},
        {"id": 4, "data": {"item_id": "b"}, "annotations": [{"id": 11}]},
    ]
    studio = Studio("http://127.0.0.1:1", "token", retries=1, backoff_s=0.0)
    studio.client = type("Client", (), {})()
    studio.client.tasks = type("T", (), {"list": staticmethod(server.list), "delete": staticmethod(server.delete)})()
    assert studio.settle(7) == {"a", "b"}
    assert server.deleted == [1]  # the unannotated copy of a; both annotated copies of b stay
