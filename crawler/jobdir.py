"""The resume files of a crawl (JOBDIR) on a disk that fills up: the crawl carries on in memory, never stalls.

Scrapy keeps pending requests in disk queues and the fingerprints of seen requests in ``requests.seen``, both
under JOBDIR. A write there that fails with the disk full raised inside the engine's loop, which then stopped
scheduling for good: the crawl sat idle until killed (seen with an 820 KB disk in tests/test_hostile_db.py).
These subclasses catch the ``OSError``: a request that cannot be written to the disk queue goes to the memory
queue (as Scrapy does with a request it cannot serialise), a fingerprint that cannot be written is kept in
memory, and the first such failure is logged once. The run's own writes (database, WARC) fail the same way and
mark the run failed with the reason (``crawler.extensions.RunRecorder``); only resuming this run after a
Ctrl-C loses the requests kept in memory.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.dupefilters import RFPDupeFilter

__all__ = ["DiskSafeDupeFilter", "DiskSafeScheduler"]

log = logging.getLogger(__name__)


class DiskSafeScheduler(Scheduler):
    """A failed write or read of the disk queue switches the scheduler to its memory queue for the rest of
    the run; the requests still on disk are given up (the run is failed by its write error anyway, and popping
    them needs the writes that failed)."""

    _disk_failed = False

    def _disk_failure(self, what: str, error: OSError) -> None:
        if not self._disk_failed:
            log.error("JOBDIR cannot be %s (%s): pending requests are kept in memory from now on", what, error)
        self._disk_failed = True

    def _dqpush(self, request: Request) -> bool:
        if self._disk_failed:
            return False
        try:
            return super()._dqpush(request)
        except OSError as e:
            self._disk_failure("written", e)
            return False

    def _dqpop(self) -> Request | None:
        if self._disk_failed:
            return None
        try:
            return super()._dqpop()
        except OSError as e:
            self._disk_failure("read", e)
            return None

    def __len__(self) -> int:
        if self._disk_failed:  # what is left on disk will not be crawled: the engine must not wait for it
            return len(self.mqs)
        return super().__len__()

    def close(self, reason: str) -> Any:
        try:
            return super().close(reason)
        except OSError as e:
            self._disk_failure("closed", e)
            return None


class DiskSafeDupeFilter(RFPDupeFilter):
    def request_seen(self, request: Request) -> bool:
        try:
            return super().request_seen(request)
        except OSError as e:
            log.error("JOBDIR's requests.seen cannot be written (%s): seen requests are kept in memory only", e)
            self.file = None  # the fingerprint is in memory already (added before the write)
            return False
