"""A private PostgreSQL server in a folder: for the tests, the benchmarks and a laptop trial of the chain.

Debian's PostgreSQL binaries (``apt-get install postgresql``) run as a cluster of its own: ``initdb`` in
a temporary folder, ``pg_ctl`` on 127.0.0.1 and a free port, trust authentication for the one local
user ``footfall`` (nothing listens beyond loopback). ``initdb`` refuses root; as root the server runs as
the ``postgres`` system user, which owns the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

USER = "footfall"


def pg_bin() -> Path:
    """The folder of Debian's newest PostgreSQL server binaries (or $FOOTFALL_PG_BIN)."""
    if env := os.environ.get("FOOTFALL_PG_BIN"):
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise FileNotFoundError("no PostgreSQL server found in /usr/lib/postgresql: apt-get install -y postgresql")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """``start()``, ``stop()``, ``kill()`` (SIGKILL of the postmaster: a crash), ``dsn(db)``."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = Path(root)
        self.data = self.root / "data"
        self.port = port or free_port()
        self.bin = pg_bin()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> PgServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(f"{self.bin}/initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> PgServer:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50"
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends: the crash a power cut or OOM killer makes."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0])
        for victim in [pid, *_children(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)

    @classmethod
    def temporary(cls) -> PgServer:
        """A server in a new folder of the system's temporary directory (reachable by the ``postgres``
        user, unlike a root-only pytest folder), removed by ``remove()``."""
        return cls(Path(tempfile.mkdtemp(prefix="footfall-pg-")))

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def create_db(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')  # a name of our own
        return self.dsn(name)

    def __enter__(self) -> PgServer:
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _alive(pid: int) -> bool:
    """Until the process is reaped (a zombie still holds its pid, and the next postmaster would refuse
    to start while ``kill(pid, 0)`` succeeds)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out
