"""Errors adclear reports to its users.

Every error a user can cause derives from ``AdclearError``; its message says what is wrong and how to fix it.
Only the CLI turns them into ``click.ClickException`` (one line, exit code 1, no traceback).

    AdclearError
    ├── SeedsInvalid        seeds.yml does not describe a valid crawl
    ├── UnknownSite         a site name that seeds.yml does not define
    ├── DatabaseError       the database cannot be opened or migrated
    ├── CrawlFailed         a crawl run fetched nothing or failed too often
    └── ReviewError         a decision that cannot be taken
        ├── UnknownAd           no ad with that id
        ├── AlreadyDecided      the ad was already confirmed or rejected
        ├── InvalidChoice       an unknown category, reason or action
        ├── HeldByOther         another reviewer holds the ad's claim
        ├── LedgerBroken        the ledger fails its check: nothing may be appended
        └── NotAnAccount        a reviewer name (--as) that is no account with the role needed
"""

from __future__ import annotations

__all__ = [
    "AdclearError",
    "AlreadyDecided",
    "CrawlFailed",
    "DatabaseError",
    "HeldByOther",
    "InvalidChoice",
    "LedgerBroken",
    "NotAnAccount",
    "ReviewError",
    "SeedsInvalid",
    "UnknownAd",
    "UnknownSite",
]


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


class ReviewError(AdclearError):
    """A decision that cannot be taken."""


class UnknownAd(ReviewError):
    """No ad with that id."""


class AlreadyDecided(ReviewError):
    """The ad was already confirmed or rejected."""


class InvalidChoice(ReviewError):
    """An unknown category, reason or action."""


class HeldByOther(ReviewError):
    """Another reviewer holds the ad's claim."""


class LedgerBroken(ReviewError):
    """The ledger fails its check (edited, cut, damaged): nothing may be appended to it."""


class NotAnAccount(ReviewError):
    """A reviewer name (--as) that is no active account with the role needed."""
