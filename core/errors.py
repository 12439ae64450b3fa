"""Every error adclear reports to its users, in one tree.

Every error a user can cause derives from ``AdclearError``; its message says what is wrong and how to fix it.
Only the shell turns them into something else: the CLI into ``click.ClickException`` (one line, exit code 1,
no traceback), the web app into a page or a flash message.

Each error speaks both languages of the web app: the message (``str(e)``, English, what the command line prints)
and its Chinese beside it, ``zh=``, which the web app shows to a Chinese reader (``review.web.i18n.error_text``)::

    raise HeldByOther(
        f"ad {ad_id} is claimed by {who} until {until}; pick another ad",
        zh=f"广告 {ad_id} 已由 {who} 认领（至 {until}），请另选广告",
    )

tests/test_error_languages.py fails when an error the web app can meet is raised without its Chinese.

    AdclearError
    ├── SeedsInvalid        seeds.yml does not describe a valid crawl                      core.seeds
    ├── UnknownSite         a site name that seeds.yml does not define                    core.seeds
    ├── DatabaseError       the database cannot be opened, migrated or written            core.db
    ├── CrawlFailed         a crawl run fetched nothing, failed too often, or overlaps    crawler.store
    ├── RedisUnavailable    the Redis of a distributed crawl cannot be reached            crawler.stream
    ├── RulesInvalid        a rule pack does not load                                     core.classifiers
    ├── ModelNotFound       a model named for promotion is not among the candidates       review.models
    ├── EvidenceMissing     an ad has no evidence of that kind, or its WARC cannot be read review.evidence
    ├── EvidenceMismatch    an archived payload no longer matches its recorded digest     review.evidence
    ├── UserError           an account that cannot be created, found or changed           review.users
    │   └── PasswordRejected    a password the policy refuses
    ├── LoginRefused        a login (or password change) that did not succeed             review.sessions
    └── ReviewError         a decision that cannot be taken                               review.decisions
        ├── UnknownAd           no ad with that id
        ├── AlreadyDecided      the ad was already confirmed or rejected
        ├── InvalidChoice       an unknown category, reason or action
        │   └── Contradiction       a near-duplicate was decided the other way, and no reason was given
        ├── HeldByOther         another reviewer holds the ad's claim
        ├── LedgerBroken        the ledger fails its check: nothing may be appended
        ├── NotAnAccount        a reviewer name (--as) that is no account with the role needed
        └── EscalationError     an escalation that cannot be raised or resolved            review.escalations

    LedgerError             not the user's: a caller appended outside a transaction       review.ledger

Below the floor, the classifier raises its own (``classifier.RulePackError``, ``classifier.model.ModelError``,
``classifier.yamlsource.YamlProblem``, ``classifier.training.DataError``), which ``core`` turns into the ones
above where a user can meet them; the crawler's ``crawler.errors.Refused`` is a Scrapy ``IgnoreRequest``, a
request refused on purpose and recorded in ``crawl_errors``, never shown as an error.
"""

from __future__ import annotations

from core.timeutil import local

__all__ = [
    "one_line",
    "zh_of",
    "AdclearError",
    "AlreadyDecided",
    "Contradiction",
    "CrawlFailed",
    "DatabaseError",
    "EscalationError",
    "EvidenceMismatch",
    "EvidenceMissing",
    "HeldByOther",
    "InvalidChoice",
    "LedgerBroken",
    "LedgerError",
    "LoginRefused",
    "ModelNotFound",
    "NotAnAccount",
    "PasswordRejected",
    "RedisUnavailable",
    "ReviewError",
    "RulesInvalid",
    "SeedsInvalid",
    "UnknownAd",
    "UnknownSite",
    "UserError",
]


class AdclearError(Exception):
    """Something the user can fix; the message says how, in English, and ``zh`` in Chinese (None: not written)."""

    def __init__(self, message: str = "", *, zh: str | None = None):
        super().__init__(message)
        self.zh = zh


class SeedsInvalid(AdclearError):
    """seeds.yml does not describe a valid crawl."""


class UnknownSite(AdclearError):
    """A site name that seeds.yml does not define."""


class DatabaseError(AdclearError):
    """The database cannot be opened, migrated or written."""


class CrawlFailed(AdclearError):
    """A crawl run fetched nothing, failed too often, or would overlap a running one."""


class RedisUnavailable(AdclearError):
    """The Redis server of a distributed crawl cannot be reached, at start or for longer than the retries last."""


class RulesInvalid(AdclearError):
    """A rule pack does not load; the message names the file, the rule and the problem."""


class ModelNotFound(AdclearError):
    """The model named cannot be found among the candidates."""


class EvidenceMissing(AdclearError):
    """The ad has no evidence of that kind, or its WARC file cannot be read."""


class EvidenceMismatch(AdclearError):
    """An archived payload no longer matches the digest recorded for it."""


class UserError(AdclearError):
    """An account that cannot be created, found or changed."""


class PasswordRejected(UserError):
    """A password the policy refuses; the message names the rule."""


class LoginRefused(AdclearError):
    """A login that did not succeed; ``kind`` says why, ``retry_at`` (UTC) when a lockout ends."""

    ZH = {
        "bad_password": "登录失败：用户名或密码错误",
        "locked_user": "该账号登录失败次数过多，已暂时锁定",
        "locked_address": "本机登录失败次数过多，已暂时锁定",
        "disabled": "该账号已停用，请联系管理员",
    }

    def __init__(self, kind: str, retry_at: str | None = None):
        self.kind = kind  # bad_password, locked_user, locked_address, disabled
        self.retry_at = retry_at
        zh = self.ZH.get(kind, f"登录失败：{kind}") + (f"，{local(retry_at, '%H:%M:%S')} 后可再试" if retry_at else "")
        super().__init__(f"login refused: {kind}" + (f" until {retry_at}" if retry_at else ""), zh=zh)


class ReviewError(AdclearError):
    """A decision that cannot be taken."""


class UnknownAd(ReviewError):
    """No ad with that id."""


class AlreadyDecided(ReviewError):
    """The ad was already confirmed or rejected."""


class InvalidChoice(ReviewError):
    """An unknown category, reason or action."""


class Contradiction(InvalidChoice):
    """A decision against an earlier decision on a near-duplicate, without the reason that would let it stand;
    ``clashes`` names them (``review.consistency.Clash``)."""

    def __init__(self, message: str, clashes: tuple = (), *, zh: str | None = None):
        super().__init__(message, zh=zh)
        self.clashes = clashes


class HeldByOther(ReviewError):
    """Another reviewer holds the ad's claim."""


class LedgerBroken(ReviewError):
    """The ledger fails its check (edited, cut, damaged): nothing may be appended to it."""


class NotAnAccount(ReviewError):
    """A reviewer name (--as) that is no active account with the role needed."""


class EscalationError(ReviewError):
    """An escalation that cannot be raised or resolved."""


class LedgerError(Exception):
    """An entry cannot be appended (not inside a write transaction, bad action): a bug in the caller."""


def zh_of(error: BaseException) -> str:
    """The Chinese of an error, for an error that wraps another: its ``zh``, else its English message."""
    return getattr(error, "zh", None) or str(error)


def one_line(text: str) -> str:
    """A message made of text from a file (a line break inside a quoted value, a terminal escape): control
    characters shown escaped, not obeyed, so that the message stays one line on the terminal."""
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in text)
