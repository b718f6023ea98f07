"""Label Studio through ``label-studio-sdk``: projects, local-file storage, task import, reading tasks.

Images reach Label Studio by its *local files* serving: the harvest copies each chosen frame under
the server's document root (``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``), the project gets a local
storage connection for that folder, and a task's image is ``/data/local-files/?d=<relative path>``.
Every call is retried with exponential backoff on connection errors and 5xx answers, so a server
restart mid-push costs time, not tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from footfall.labeling.contract import check_labels, label_config, labels_of

log = logging.getLogger("footfall.labeling")
T = TypeVar("T")


class StudioUnavailable(RuntimeError):
    """Label Studio did not answer after every retry; what was pushed so far stays pushed."""


def local_file_url(relative: str) -> str:
    return f"/data/local-files/?d={relative}"


class Studio:
    """One Label Studio server (``url``) and an API token (a legacy token: ``Token …``)."""

    def __init__(
        self, url: str, token: str, *, retries: int = 6, backoff_s: float = 1.0, timeout_s: float = 60
    ) -> None:
        from label_studio_sdk import LabelStudio

        self.url = url.rstrip("/")
        self.client = LabelStudio(base_url=self.url, api_key=token, timeout=timeout_s)
        self.retries = retries
        self.backoff_s = backoff_s

    def call(self, what: str, fn: Callable[[], T], before_retry: Callable[[], None] | None = None) -> T:
        """``fn()`` with retries on transport errors and server errors; other errors surface at once.

        ``before_retry`` runs after the backoff sleep, before the next attempt (to re-read state).
        """
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            try:
                return fn()
            except (httpx.TransportError, ApiError) as exc:
                status = getattr(exc, "status_code", None)
                if status is not None and status < 500:
                    raise
                if attempt == self.retries:
                    raise StudioUnavailable(
                        f"Label Studio at {self.url} did not answer {what} after {self.retries} attempts: {exc}. "
                        "Nothing already pushed is lost; re-run to resume"
                    ) from exc
                log.warning("labeling: %s failed (%s); retry %d/%d in %.1f s", what, exc, attempt, self.retries, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                if before_retry is not None:
                    before_retry()
        raise AssertionError("unreachable")

    # -- project ----------------------------------------------------------------------------------
    def ensure_project(self, title: str, classes: list[str], *, update: bool = False) -> int:
        """The id of the project ``title``, created with the labelling config of ``classes``.

        An existing project whose labels differ is a ``LabelMismatch`` (both lists named) unless
        ``update``, which rewrites its labelling config.
        """
        projects: list[Any] = self.call("list projects", lambda: list(self.client.projects.list()))
        for project in projects:
            if project.title == title:
                current = labels_of(project.label_config or "")
                if current != classes:
                    if not update:
                        check_labels(current, classes)
                    self._relabel(int(project.id), classes)
                return int(project.id)
        created: Any = self.call(
            "create project",
            lambda: self.client.projects.create(
                title=title,
                label_config=label_config(classes),
                description="footfall: people by class. Draw a box around every person, feet included.",
                show_collab_predictions=True,
            ),
        )
        return int(created.id)

    def _relabel(self, project: int, classes: list[str]) -> None:
        self.call("update labels", lambda: self.client.projects.update(id=project, label_config=label_config(classes)))

    def ensure_local_storage(self, project: int, folder: Path) -> None:
        """A local-files storage connection of ``project`` for ``folder`` (idempotent)."""
        folder = Path(folder).resolve()
        existing: Any = self.call("list storages", lambda: self.client.import_storage.local.list(project=project))
        if any(Path(s.path or "").resolve() == folder for s in existing):
            return
        self.call(
            "create storage",
            lambda: self.client.import_storage.local.create(
                project=project, path=str(folder), title="footfall harvest", use_blob_urls=False
            ),
        )

    # -- tasks ------------------------------------------------------------------------------------
    def tasks(self, project: int, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every task of ``project`` with its annotations and predictions, as plain dicts."""
        from label_studio_sdk.core.api_error import ApiError

        page: Any = self.call(
            "list tasks", lambda: self.client.tasks.list(project=project, fields="all", page_size=page_size)
        )
        number = 1
        while page is not None:
            for task in page.items or []:
                yield task.model_dump(mode="json") if hasattr(task, "model_dump") else dict(task)
            if not page.has_next or page.get_next is None:
                return
            number += 1
            # every page through the retries, not only the first (the SDK's own iterator fetches the
            # next pages outside them); the SDK asks for a next page while the last one had items, and
            # Label Studio answers a page past the end with 404 "Invalid page."
            try:
                page = self.call(f"list tasks (page {number})", page.get_next)
            except ApiError as exc:
                if exc.status_code == 404:
                    return
                raise
            if page is not None and not page.items:
                return

    def item_ids(self, project: int) -> set[str]:
        return {str(t["data"].get("item_id")) for t in self.tasks(project) if t.get("data", {}).get("item_id")}

    def settle(self, project: int) -> set[str]:
        """The project's item ids, after deleting extra copies of a task that was imported twice.

        Label Studio has no idempotent import: a request that timed out on our side while the server
        still committed it, re-sent after the item ids were read back, lands twice. Of the copies of one
        ``item_id`` the one with annotations stays (an annotator's work is never deleted: if several
        have some, all stay), else the oldest.
        """
        copies: dict[str, list[dict[str, Any]]] = {}
        for task in self.tasks(project):
            item = task.get("data", {}).get("item_id")
            if item:
                copies.setdefault(str(item), []).append(task)
        for item, tasks in copies.items():
            if len(tasks) < 2:
                continue
            tasks.sort(key=lambda t: (not t.get("annotations"), int(t["id"])))
            for extra in tasks[1:]:
                if extra.get("annotations"):
                    continue
                task_id = int(extra["id"])
                self.call(f"delete duplicate task {task_id}", self._deleter(task_id))
                log.warning(
                    "labeling: task %d was a second copy of item %s (an import sent twice): deleted", task_id, item
                )
        return set(copies)

    def _deleter(self, task_id: int) -> Callable[[], None]:
        return lambda: self.client.tasks.delete(id=str(task_id))

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> None:
        """Import tasks (each with a unique ``data.item_id``) exactly once.

        A request cut after the server committed it must not be sent again blindly: before each retry
        the project's item ids are read back and only the missing tasks are sent. A server that commits
        the cut request only after that read gets a task twice: after any retry the project is settled
        (:meth:`settle`), and the next harvest settles it again before it reads what is there.
        """
        pending = tasks
        retried = False

        def send() -> None:
            if pending:
                self.client.projects.import_tasks(id=project, request=cast(Any, pending), return_task_ids=True)

        def keep_missing() -> None:
            nonlocal pending, retried
            retried = True
            present = self.item_ids(project)
            pending = [t for t in pending if str(t["data"]["item_id"]) not in present]

        self.call("import", send, before_retry=keep_missing)
        if retried:
            self.settle(project)
