"""Chromium's processes are reaped by the crawl that started them.

When the browser closes, some of its processes (the crash handler, the zygotes) outlive their parent and are
handed to the nearest "subreaper", else to PID 1. In a container whose PID 1 does not wait for orphans (a
shell, the crawler itself), they stay ``<defunct>`` for good. So ``run_crawl`` makes the crawling process a
subreaper (Linux's ``PR_SET_CHILD_SUBREAPER``) before the browser starts, and reaps every child left when the
crawl is over: the browser's orphans come back to it instead of going astray. The processes the crawling process
started itself through ``multiprocessing`` (the workers reading pictures beside the crawl, crawler/reading.py,
and multiprocessing's resource tracker) are its own to close: ``own_processes`` names them, and they are left
alone.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time

__all__ = ["become_subreaper", "own_processes", "reap_children"]

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> bool:
    """Orphaned descendants of this process come back to it (Linux); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat[stat.rfind(b")") + 2 :].split()[1]) == me:
            found.append(int(entry))
    return found


def own_processes() -> frozenset[int]:
    """The processes this one started through ``multiprocessing`` and still runs (pools' workers, the resource
    tracker that spawned workers need): not orphans to reap."""
    from multiprocessing import resource_tracker

    pids = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    tracker = getattr(getattr(resource_tracker, "_resource_tracker", None), "_pid", None)  # private: checked
    if isinstance(tracker, int):
        pids.add(tracker)
    return frozenset(pids)


def reap_children(grace: float = 5.0, keep: frozenset[int] = frozenset()) -> int:
    """Wait for every child process left after a crawl, but those in ``keep`` (``own_processes``); those still
    running after ``grace`` seconds are killed. Returns how many were reaped."""
    deadline, killed, reaped = time.monotonic() + grace, False, 0
    while True:
        left = [pid for pid in _children() if pid not in keep]
        if not left:
            return reaped
        for pid in left:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not ours to wait for after all (gone meanwhile)
                continue
            reaped += bool(done)
        if time.monotonic() > deadline and not killed:
            for child in [pid for pid in _children() if pid not in keep]:
                log.warning("process %d outlived the crawl's browser: killed", child)
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed = True
        time.sleep(0.05)
