"""Child processes that cannot outlive the process that started them."""

from __future__ import annotations

import contextlib
import os
import signal


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when the process that started it dies (Linux), so a crashed
    scheduler or cycle never leaves an orphan that finishes, and publishes, a run it no longer tracks."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group a child started with ``start_new_session=True`` leads (its
    workers too); a group that is already gone, or not ours, is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
