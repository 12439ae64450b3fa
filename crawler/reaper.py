"""Chromium's processes are reaped by the crawl that started them.

When the browser closes, some of its processes (the crash handler, the zygotes) outlive their parent and are
handed to the nearest "subreaper", else to PID 1. In a container whose PID 1 does not wait for orphans (a
shell, the crawler itself), they stay ``<defunct>`` for good. So ``run_crawl`` makes the crawling process a
subreaper (Linux's ``PR_SET_CHILD_SUBREAPER``) before the browser starts, and reaps every child left when the
crawl is over: the browser's orphans come back to it instead of going astray.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time

__all__ = ["become_subreaper", "reap_children"]

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


def reap_children(grace: float = 5.0) -> int:
    """Wait for every child process left after a crawl; those still running after ``grace`` seconds are killed.
    Returns how many were reaped."""
    deadline, killed, reaped = time.monotonic() + grace, False, 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped  # no child left
        if pid:
            reaped += 1
            continue
        if time.monotonic() > deadline and not killed:
            for child in _children():
                log.warning("process %d outlived the crawl's browser: killed", child)
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed = True
        time.sleep(0.05)
