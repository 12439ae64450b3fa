"""Errors adclear reports to its users.

Every error a user can cause derives from ``AdclearError``; its message says what is wrong and how to fix it.
Only the CLI turns them into ``click.ClickException`` (one line, exit code 1, no traceback).

    AdclearError
    ├── SeedsInvalid        seeds.yml does not describe a valid crawl
    ├── UnknownSite         a site name that seeds.yml does not define
    ├── DatabaseError       the database cannot be opened or migrated
    └── CrawlFailed         a crawl run fetched nothing or failed too often
"""

from __future__ import annotations

__all__ = ["AdclearError", "CrawlFailed", "DatabaseError", "SeedsInvalid", "UnknownSite"]


class AdclearError(Exception):
    """Something the user can fix; the message says how."""


class SeedsInvalid(AdclearError):
    """seeds.yml does not describe a valid crawl."""


class UnknownSite(AdclearError):
    """A site name that seeds.yml does not define."""


class DatabaseError(AdclearError):
    """The database cannot be opened or migrated."""


class CrawlFailed(AdclearError):
    """A crawl run fetched nothing or failed too often."""
