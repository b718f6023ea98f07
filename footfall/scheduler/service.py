"""``footfall scheduler``: the nightly harvest and the retraining jobs, on cron triggers.

apscheduler 3 does the timing, with its jobs in a persistent SQLite job store; this module adds what
a paying user expects from "runs every night":

- **One instance at a time**, of each job (``max_instances=1``) and of the scheduler itself (an
  exclusive lock on the database file: a second scheduler on the same database refuses to start).
- **No duplicate run**: every run claims its slot (job, scheduled time) in a ledger table before it
  starts; a slot that is already done is never run again.
- **No lost run**: jobs whose definition did not change keep their stored next run time across a
  restart, so a slot that fell due while the scheduler was down is run once on start (missed slots
  are coalesced into one run, within ``misfire_grace_s``; later than that it is logged as missed). A
  run interrupted by a crash or a shutdown is left "running"/"interrupted" in the ledger and is run
  again when the scheduler starts.
- **Graceful shutdown** on SIGTERM/SIGINT: no new runs; a running job gets SIGTERM, then SIGKILL after
  ``shutdown_timeout_s``; its slot is marked interrupted and re-run on the next start.

Each run is a subprocess (``footfall retrain run …`` or a configured command), so a failing job
cannot take the scheduler down; its exit code and log file are in the ledger.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from footfall.common.config import Section, load_section, repeated, resolve_file_url, resolve_path
from footfall.common.localtime import DAY_S
from footfall.common.process import die_with_parent, kill_group

log = logging.getLogger("footfall.scheduler")


def nights(slot: float, last_done: float | None, catch_up_days: int) -> list[tuple[float, float]]:
    """The UTC nights a harvest slot covers: the night before the slot's day, and every night since the
    last slot that finished (missed while the scheduler was down), oldest first, at most ``catch_up_days``."""
    end = slot // DAY_S * DAY_S
    first = end - DAY_S if last_done is None else max(last_done // DAY_S * DAY_S, end - catch_up_days * DAY_S)
    return [(t, t + DAY_S) for t in range(int(first), int(end), DAY_S)]


class JobSettings(Section):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="Unique job name.")
    kind: Literal["harvest", "export", "retrain", "release", "command"] = Field(
        ...,
        description="harvest: footfall harvest run --config CONFIG for the nights of its slot (the night before "
        "it, and every night missed since the last finished slot); export: footfall labeling export --config "
        "CONFIG --dataset DATASET --registry REGISTRY; retrain: footfall retrain run --config CONFIG; release: "
        "footfall retrain release --config CONFIG (canary burn-in, then production); command: run COMMAND.",
    )
    config: Path | None = Field(None, description="Config file of a harvest, export or retrain job.")
    dataset: str | None = Field(None, description="Dataset an export job publishes a new version of.")
    registry: str | None = Field(None, description="Registry (file:// or s3://) an export job publishes to.")
    sign_key: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) an export job signs its dataset version with (the training "
        "server's, as retrain.signing.sign_key): retraining refuses an unsigned version.",
    )
    unsigned: bool = Field(False, description="Development only: an export job publishes without a signature.")
    catch_up_days: int = Field(
        7, ge=1, le=366, description="A harvest slot covers at most this many missed nights (older: logged, skipped)."
    )
    command: list[str] | None = Field(None, description="Argument list of a command job (no shell).")
    cron: str | None = Field(None, description="Crontab expression (5 fields, or 6 with seconds first).")
    interval_s: float | None = Field(None, gt=0, description="Alternative to cron: run every N seconds.")
    after: str | None = Field(
        None,
        description="Alternative to cron: run as soon as job AFTER finished a slot successfully, for that slot "
        "(e.g. retrain after the nightly export, the canary rollout after retrain, release after it). A failed "
        "job stops its chain; a chain cut by a restart goes on when the scheduler starts again.",
    )
    misfire_grace_s: int = Field(6 * 3600, ge=1, description="A slot missed by more than this is skipped (logged).")

    @model_validator(mode="after")
    def _check(self) -> JobSettings:
        if sum(x is not None for x in (self.cron, self.interval_s, self.after)) != 1:
            raise ValueError(f"job {self.name!r}: set exactly one of cron, interval_s or after")
        if self.cron is not None and len(self.cron.split()) not in (5, 6):
            raise ValueError(f"job {self.name!r}: cron {self.cron!r} needs 5 fields (m h dom mon dow) or 6")
        if self.kind in ("harvest", "export", "retrain", "release") and self.config is None:
            raise ValueError(f"job {self.name!r}: a {self.kind} job needs config (the {self.kind} YAML)")
        if self.kind == "export" and not (self.dataset and self.registry):
            raise ValueError(f"job {self.name!r}: an export job needs dataset and registry")
        if self.kind == "export" and self.sign_key is None and not self.unsigned:
            raise ValueError(
                f"job {self.name!r}: sign_key not set: dataset versions are signed. Fix: sign_key: the training "
                "server's private key (as retrain.signing.sign_key), or unsigned: true on a development machine"
            )
        if self.kind == "command" and not self.command:
            raise ValueError(f"job {self.name!r}: a command job needs command: [program, arg, ...]")
        return self

    def runs(self, slot: float, last_done: float | None = None) -> list[list[str]]:
        """The commands of one slot, run in order: a harvest slot runs once per night it covers."""
        cli = [sys.executable, "-m", "footfall.cli"]
        if self.kind == "harvest":
            return [
                [*cli, "harvest", "run", "--config", str(self.config), "--since", _iso(a), "--until", _iso(b)]
                for a, b in nights(slot, last_done, self.catch_up_days)
            ]
        if self.kind == "export":
            assert self.dataset and self.registry
            export = ["labeling", "export", "--config", str(self.config)]
            signing = ["--sign-key", str(self.sign_key)] if self.sign_key is not None else ["--unsigned"]
            return [[*cli, *export, "--dataset", self.dataset, "--registry", self.registry, *signing]]
        if self.kind in ("retrain", "release"):
            return [[*cli, "retrain", "run" if self.kind == "retrain" else "release", "--config", str(self.config)]]
        return [list(self.command or [])]

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class SchedulerSettings(Section):
    db: Path = Field(Path("runs/scheduler.db"), description="SQLite file: apscheduler's job store and the run ledger.")
    log_dir: Path = Field(Path("runs/scheduler-logs"), description="One log file per run.")
    timezone: str = Field("UTC", description="Time zone of the cron expressions.")
    shutdown_timeout_s: float = Field(60, ge=0, description="Grace for a running job on shutdown, then SIGKILL.")
    jobs: list[JobSettings] = Field(..., min_length=1, description="The scheduled jobs.")

    @model_validator(mode="after")
    def _unique(self) -> SchedulerSettings:
        dupes = repeated([j.name for j in self.jobs])
        if dupes:
            raise ValueError(f"job names must be unique; repeated: {dupes}")
        by_name = {j.name: j for j in self.jobs}
        for job in self.jobs:
            seen, cur = {job.name}, job
            while cur.after is not None:
                if cur.after not in by_name:
                    raise ValueError(f"job {cur.name!r}: after {cur.after!r} is no job of this scheduler")
                if cur.after in seen:
                    raise ValueError(f"job {job.name!r}: its 'after' chain is a cycle ({' → '.join(seen)})")
                seen.add(cur.after)
                cur = by_name[cur.after]
        return self

    def followers(self, name: str) -> list[JobSettings]:
        """The jobs that run when ``name`` finished a slot, in config order."""
        return [j for j in self.jobs if j.after == name]


def load_scheduler_config(path: Path) -> SchedulerSettings:
    """The ``scheduler:`` section of ``path``; relative paths resolve against the file's folder."""
    cfg = load_section(Path(path), "scheduler", SchedulerSettings)
    base = Path(path).resolve().parent
    jobs = [
        j.model_copy(
            update={
                "config": resolve_path(j.config, base) if j.config else None,
                "registry": resolve_file_url(j.registry, base) if j.registry else None,
                "sign_key": resolve_path(j.sign_key, base) if j.sign_key else None,
            }
        )
        for j in cfg.jobs
    ]
    return cfg.model_copy(
        update={"db": resolve_path(cfg.db, base), "log_dir": resolve_path(cfg.log_dir, base), "jobs": jobs}
    )


class Ledger:
    """Run slots in SQLite: (job, slot) is claimed once; status running → done | failed | interrupted."""

    def __init__(self, path: Path, instance: str) -> None:
        self.instance = instance
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS runs (job TEXT NOT NULL, slot REAL NOT NULL, status TEXT NOT NULL, "
            "instance TEXT, attempts INTEGER NOT NULL DEFAULT 1, started REAL, finished REAL, exit_code INTEGER, "
            "log TEXT, PRIMARY KEY (job, slot))"
        )
        self.lock = threading.Lock()

    def claim(self, job: str, slot: float, log_path: str) -> bool:
        """True if this instance may run the slot now (new, or left unfinished by an earlier instance)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT status, instance FROM runs WHERE job=? AND slot=?", (job, slot)).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO runs (job, slot, status, instance, started, log) VALUES (?, ?, 'running', ?, ?, ?)",
                    (job, slot, self.instance, time.time(), log_path),
                )
            elif row[0] == "interrupted" or (row[0] == "running" and row[1] != self.instance):
                self.db.execute(
                    "UPDATE runs SET status='running', instance=?, attempts=attempts+1, started=?, log=? "
                    "WHERE job=? AND slot=?",
                    (self.instance, time.time(), log_path, job, slot),
                )
            else:
                self.db.execute("COMMIT")
                return False
            self.db.execute("COMMIT")
            return True

    def finish(self, job: str, slot: float, status: str, exit_code: int | None) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE runs SET status=?, finished=?, exit_code=? WHERE job=? AND slot=? AND instance=?",
                (status, time.time(), exit_code, job, slot, self.instance),
            )

    def last_done(self, job: str, before: float) -> float | None:
        """The latest slot of ``job`` before ``before`` that finished successfully."""
        with self.lock:
            row = self.db.execute(
                "SELECT MAX(slot) FROM runs WHERE job=? AND status='done' AND slot < ?", (job, before)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def done_slots(self, job: str, since: float) -> list[float]:
        """Slots of ``job`` since ``since`` that finished successfully, oldest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT slot FROM runs WHERE job=? AND status='done' AND slot >= ? ORDER BY slot", (job, since)
            ).fetchall()
        return [float(r[0]) for r in rows]

    def has(self, job: str, slot: float) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM runs WHERE job=? AND slot=?", (job, slot)).fetchone() is not None

    def unfinished(self) -> list[tuple[str, float]]:
        """Slots a previous instance started and never finished (crash, kill, shutdown)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT job, slot FROM runs WHERE status IN ('running', 'interrupted') AND instance != ?",
                (self.instance,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def rows(self, job: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.db.execute(
                "SELECT job, slot, status, attempts, started, finished, exit_code, log FROM runs "
                + ("WHERE job=? " if job else "")
                + "ORDER BY slot",
                (job,) if job else (),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class JobRunner:
    """Runs one slot of a job as a subprocess; tracks children for a graceful shutdown."""

    def __init__(self, settings: SchedulerSettings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.jobs = {j.name: j for j in settings.jobs}
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, name: str, slot: float) -> int | None:
        job = self.jobs.get(name)
        if job is None:
            log.warning("scheduler: job %s is no longer configured; slot %s skipped", name, _iso(slot))
            return None
        if self.stopping.is_set():
            return None
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.settings.log_dir / f"{name}-{datetime.fromtimestamp(slot, UTC):%Y%m%dT%H%M%S}.log"
        if not self.ledger.claim(name, slot, str(log_path)):
            log.info("scheduler: %s slot %s already ran; not running it twice", name, _iso(slot))
            return None
        env = {**os.environ, "FOOTFALL_JOB": name, "FOOTFALL_SLOT": _iso(slot)}
        code, cut = 0, False
        with open(log_path, "ab") as out:
            for argv in job.runs(slot, self.ledger.last_done(name, slot)):
                if self.stopping.is_set():
                    cut = True  # nights of this slot not run yet: the slot is not done
                    break
                log.info("scheduler: %s slot %s starting: %s", name, _iso(slot), " ".join(argv))
                code = self._run(argv, out, env)
                if code != 0:
                    break
        if self.stopping.is_set() and (code != 0 or cut):
            self.ledger.finish(name, slot, "interrupted", code)
            log.warning("scheduler: %s slot %s interrupted by shutdown; it runs again on start", name, _iso(slot))
            return code
        self.ledger.finish(name, slot, "done" if code == 0 else "failed", code)
        level = logging.INFO if code == 0 else logging.ERROR
        log.log(
            level,
            "scheduler: %s slot %s %s (exit %s, log %s)",
            name,
            _iso(slot),
            "done" if code == 0 else "FAILED",
            code,
            log_path,
        )
        if code == 0:
            self.run_followers(name, slot)
        return code

    def run_followers(self, name: str, slot: float) -> None:
        """The jobs chained after ``name``, for its slot (each claims the slot: never twice)."""
        for follower in self.settings.followers(name):
            if self.stopping.is_set():
                return
            self(follower.name, slot)

    def _run(self, argv: list[str], out: Any, env: dict[str, str]) -> int:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=die_with_parent
        )
        with self.lock:
            self.children[proc.pid] = proc
        code = proc.wait()
        with self.lock:
            self.children.pop(proc.pid, None)
        return code

    def stop_children(self, timeout: float) -> None:
        self.stopping.set()
        with self.lock:
            children = list(self.children.values())
        for proc in children:
            kill_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in children:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


# apscheduler calls job functions with no run time; the run time (the slot) is what makes a run
# idempotent, so the executor hands it to the function. Module-level so the job store can pickle it.
_RUNNER: JobRunner | None = None


def run_slot(
    name: str, slot: float = 0.0, definition: str | None = None, slot_override: float | None = None
) -> int | None:
    """The job function stored by apscheduler: run ``name`` for ``slot`` (a recovery keeps its own)."""
    if _RUNNER is None:
        raise RuntimeError("scheduler runner is not set up")
    return _RUNNER(name, slot if slot_override is None else slot_override)


def _slot_executor(max_workers: int) -> Any:
    from apscheduler.executors.base import run_job
    from apscheduler.executors.pool import ThreadPoolExecutor

    class SlotExecutor(ThreadPoolExecutor):
        def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
            def run_all() -> list[Any]:
                events = []
                for run_time in run_times:
                    proxy = types.SimpleNamespace(
                        id=job.id,
                        func=job.func,
                        args=job.args,
                        kwargs={**job.kwargs, "slot": run_time.timestamp()},
                        misfire_grace_time=job.misfire_grace_time,
                    )
                    events += run_job(proxy, job._jobstore_alias, [run_time], self._logger.name)
                return events

            def callback(f: Any) -> None:
                exc = f.exception()
                if exc:
                    self._run_job_error(job.id, exc, exc.__traceback__)
                else:
                    self._run_job_success(job.id, f.result())

            self._pool.submit(run_all).add_done_callback(callback)

    return SlotExecutor(max_workers)


def _trigger(job: JobSettings, tz: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if job.interval_s is not None:
        return IntervalTrigger(seconds=job.interval_s, timezone=tz)
    fields = job.cron.split() if job.cron else []
    if len(fields) == 6:
        second, minute, hour, day, month, dow = fields
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=tz)
    return CronTrigger.from_crontab(job.cron, timezone=tz)


def serve(
    settings: SchedulerSettings, *, stop: threading.Event | None = None, on_ready: Callable[[], None] | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); return the exit code."""
    global _RUNNER
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    settings.db.parent.mkdir(parents=True, exist_ok=True)
    lock = open(f"{settings.db}.lock", "w")  # noqa: SIM115 (held for the whole run)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another footfall scheduler is running on {settings.db}; refusing to start a second"
        ) from None
    instance = uuid.uuid4().hex[:12]
    ledger = Ledger(settings.db, instance)
    runner = JobRunner(settings, ledger)
    _RUNNER = runner
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{settings.db}", tablename="apscheduler_jobs")},
        executors={"default": _slot_executor(max(2, len(settings.jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=settings.timezone,
    )
    scheduler.start(paused=True)
    configured = {j.name for j in settings.jobs}
    for stored in scheduler.get_jobs():
        if stored.id not in configured and not stored.id.startswith("recover:"):
            log.info("scheduler: job %s is no longer in the config; removed", stored.id)
            stored.remove()
    for job in settings.jobs:
        if job.after is not None:
            continue  # runs when its predecessor finishes, not on a trigger of its own
        stored = scheduler.get_job(job.name)
        if stored is not None and stored.kwargs.get("definition") == job.fingerprint():
            log.info("scheduler: %s kept; next run %s", job.name, stored.next_run_time)
            continue  # unchanged: keep its stored next run time, so a slot missed while down still runs
        scheduler.add_job(
            run_slot,
            _trigger(job, settings.timezone),
            id=job.name,
            name=job.name,
            kwargs={"name": job.name, "definition": job.fingerprint()},
            misfire_grace_time=job.misfire_grace_s,
            replace_existing=True,
        )
        log.info("scheduler: %s scheduled (%s)", job.name, job.cron or f"every {job.interval_s} s")
    # a chain cut by a stop between two stages: the predecessor's slot is done, the follower never started
    pending = [
        (job.name, slot)
        for job in settings.jobs
        if job.after is not None
        for slot in ledger.done_slots(job.after, time.time() - 7 * DAY_S)
        if not ledger.has(job.name, slot)
    ]
    for name, slot in [*ledger.unfinished(), *pending]:
        log.warning("scheduler: %s slot %s was interrupted; running it again", name, _iso(slot))
        scheduler.add_job(
            run_slot,
            "date",
            run_date=datetime.now(UTC),
            id=f"recover:{name}:{slot}",
            kwargs={"name": name, "slot_override": slot},
            replace_existing=True,
            misfire_grace_time=None,
        )
    stop = stop or threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    scheduler.resume()
    log.info("scheduler: running %d job(s); database %s", len(settings.jobs), settings.db)
    if on_ready:
        on_ready()
    try:
        stop.wait()
    finally:
        log.info("scheduler: shutting down")
        scheduler.pause()
        runner.stop_children(settings.shutdown_timeout_s)
        scheduler.shutdown(wait=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        _RUNNER = None
        lock.close()
    return 0


def show_runs(settings: SchedulerSettings) -> list[dict[str, Any]]:
    if not settings.db.exists():
        return []
    return Ledger(settings.db, "reader").rows()


__all__ = ["JobSettings", "Ledger", "SchedulerSettings", "load_scheduler_config", "serve", "show_runs"]
