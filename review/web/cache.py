"""A value that is slow to compute and may be a few seconds old: served from memory, refreshed in the background.

The first request computes it; afterwards a request that finds it older than ``ttl`` starts one refresh in a
thread (with its own database connection) and is answered with the value it has. ``ttl=0`` computes every time
(tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["StaleWhileRefresh"]


class StaleWhileRefresh:
    def __init__(self, compute: Callable[[], Any], ttl: float):
        self._compute = compute
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = 0.0
        self._refreshing = False

    def get(self) -> Any:
        if self.ttl <= 0:
            return self._compute()
        with self._lock:
            value, at, busy = self._value, self._at, self._refreshing
            stale = value is not None and time.monotonic() - at > self.ttl
            if stale and not busy:
                self._refreshing = True
        if value is None:
            return self._store(self._compute())
        if stale and not busy:
            threading.Thread(target=self._refresh, daemon=True, name="adclear-counts").start()
        return value

    def _store(self, value: Any) -> Any:
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value

    def _refresh(self) -> None:
        try:
            self._store(self._compute())
        finally:
            with self._lock:
                self._refreshing = False
