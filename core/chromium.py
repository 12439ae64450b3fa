"""Debian's Chromium, as every part of adclear launches it: the crawler's rendering (crawler/browser.py adds its
own switches) and the notice's printing (review/notice.py). Never downloaded: ``playwright install`` is not used.
"""

from __future__ import annotations

__all__ = ["BASE_ARGS", "DEFAULT_CHROMIUM"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"  # Debian's package `chromium`; $ADCLEAR_CHROMIUM names another
# A headless browser in a container: no sandbox (no user namespaces there), no GPU, shared memory in /tmp rather
# than a small /dev/shm, and no traffic of its own (component updates, sync, first-run pages).
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
