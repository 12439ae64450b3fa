"""What the operator sees of the configured sites: their last run and its figures."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from core.seeds import Seeds

__all__ = ["site_overview"]


def site_overview(db: sqlite_utils.Database, seeds: Seeds) -> list[dict[str, Any]]:
    """One row per site of seeds.yml, with its most recent run (or None)."""
    rows = []
    for site in seeds.sites:
        run = db.execute(
            """SELECT id, started_at, finished_at, status, reason, pages, ads_new, ads_seen, ads_changed, errors
               FROM crawl_runs WHERE site = ? ORDER BY id DESC LIMIT 1""",
            [site.name],
        ).fetchone()
        last = None
        if run is not None:
            keys = (
                "id",
                "started_at",
                "finished_at",
                "status",
                "reason",
                "pages",
                "ads_new",
                "ads_seen",
                "ads_changed",
                "errors",
            )
            last = dict(zip(keys, run, strict=True))
        rows.append(
            {
                "name": site.name,
                "kind": site.kind,
                "platform": site.platform,
                "region": site.region,
                "enabled": site.enabled,
                "last_run": last,
            }
        )
    return rows
