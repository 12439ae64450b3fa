"""What happens to the demo sites after a takedown, driven by tests and the demo: ``/_demo/…`` on loopback.

A platform takes an ad down, puts it back, or the ad comes back as a repost under another URL (on the same site
or on the other one); a site can also be down for a while. Each is a POST::

    POST /_demo/takedown?site=classifieds&id=1001   the ad's page answers 410 Gone (social: 200 "该动态已被删除");
                                                    &how=redirect: it sends to the home page (classifieds)
    POST /_demo/restore?site=classifieds&id=1001    the ad is back as it was
    POST /_demo/repost?site=classifieds&id=1001&to=social   a near-duplicate under a new URL: {"url": "/social/p/…"}
    POST /_demo/outage?site=classifieds&on=1        every page of the site answers 503 (on=0: back up)
    POST /_demo/layout?site=classifieds&v=2         the site's new layout: its class names change, so the
                                                    selectors of seeds.yml match nothing (v=1: back)

Answers are JSON; an unknown site or ad is a 404 with the reason. The server only listens on 127.0.0.1, and
these requests are refused from any other address all the same.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Protocol
from urllib.parse import parse_qs

from demo.classifieds.site import Ad, ClassifiedsSite
from demo.reply import Reply
from demo.social.site import SocialSite

__all__ = ["PREFIX", "RELAYOUT", "SITES", "Admin", "relayout", "repost_text"]

PREFIX = "/_demo/"
SITES = ("classifieds", "social")
REPOST_ID_START = 9001  # reposts get ids from here on, on either site
REPOST_TIME = "2026-12-01 09:00"  # later than any bundled content: a repost is the newest thing on the site


# a site's new layout: the class names its pages used, renamed (a redesign the crawler's selectors do not know)
RELAYOUT = {b'class="ad-list': b'class="listing-v2', b'class="ad-title"': b'class="headline"',
            b'class="ad-body"': b'class="post-content"', b'class="ad-item': b'class="entry'}  # fmt: skip


def relayout(body: bytes) -> bytes:
    """A page of the site in its new layout."""
    for old, new in RELAYOUT.items():
        body = body.replace(old, new)
    return body


class _Site(Protocol):
    def take_down(self, ad_id: int, *, redirect: bool = False) -> bool: ...
    def restore(self, ad_id: int) -> bool: ...


def repost_text(title: str, body: str) -> tuple[str, str]:
    """What a reposter writes: the same promotion, lightly edited (a new number, a line added)."""
    lines = [line for line in body.split("\n") if line.strip()]
    lines.append("老客户介绍新客户另有奖励，详情私信。")
    return title, "\n".join(lines)


class Admin:
    """The ``/_demo/`` endpoints over the two sites' state."""

    def __init__(self, classifieds: ClassifiedsSite, social: SocialSite):
        self.classifieds = classifieds
        self.social = social
        self.down: set[str] = set()  # sites answering 503
        self.relaid: set[str] = set()  # sites showing their new layout (RELAYOUT)
        self._next_id = REPOST_ID_START

    def site(self, name: str) -> _Site | None:
        return {"classifieds": self.classifieds, "social": self.social}.get(name)

    def answer(self, path: str, query: str) -> Reply:
        args = {k: v[0] for k, v in parse_qs(query).items()}
        action = path[len(PREFIX) :]
        name = args.get("site", "")
        site = self.site(name)
        if site is None:
            return _json({"error": f"unknown site {name!r}: one of {', '.join(SITES)}"}, 404)
        if action == "outage":
            (self.down.add if args.get("on", "1") != "0" else self.down.discard)(name)
            return _json({"site": name, "down": name in self.down})
        if action == "layout":
            (self.relaid.add if args.get("v", "2") != "1" else self.relaid.discard)(name)
            return _json({"site": name, "layout": 2 if name in self.relaid else 1})
        ad_id = int(args["id"]) if args.get("id", "").isdigit() else -1
        if action in ("takedown", "restore"):
            redirect = args.get("how") == "redirect"
            done = site.take_down(ad_id, redirect=redirect) if action == "takedown" else site.restore(ad_id)
            if not done:
                return _json({"error": f"no ad {args.get('id')!r} on {name}"}, 404)
            return _json({"site": name, "id": ad_id, "removed": action == "takedown"})
        if action == "repost":
            target = args.get("to", name)
            if self.site(target) is None:
                return _json({"error": f"unknown site {target!r}: one of {', '.join(SITES)}"}, 404)
            url = self.repost(name, ad_id, target)
            if url is None:
                return _json({"error": f"no ad {args.get('id')!r} on {name}"}, 404)
            return _json({"site": target, "url": url, "repost_of": ad_id})
        return _json({"error": f"unknown action {action!r}: takedown, restore, repost, outage, layout"}, 404)

    def repost(self, source: str, ad_id: int, target: str) -> str | None:
        """A near-duplicate of the ad published on ``target``; the path of its page (None: no such ad)."""
        if source == "classifieds":
            ad = self.classifieds.by_id.get(ad_id)
            if ad is None:
                return None
            title, body, author = ad.title, ad.body, ad.author
        else:
            post = self.social.by_id.get(ad_id)
            if post is None:
                return None
            title, body, author = post.lines[0], "\n".join(post.lines[1:]), post.author
        title, body = repost_text(title, body)
        new_id, self._next_id = self._next_id, self._next_id + 1
        if target == "classifieds":
            section = ad.section if source == "classifieds" else "licai"
            new = Ad(
                id=new_id, section=section, title=title, body=body, contact="电话 136 0000 4417",
                author=f"{author}（新号）", posted_at=REPOST_TIME, truth="promotion",
                repost_of=ad_id if source == "classifieds" else None,
            )  # fmt: skip
            self.classifieds.add(new)
            return new.path
        like = self.social.posts[0]
        handle = f"repost{new_id}"
        new_post = replace(like, id=new_id, author=f"{author}（新号）", handle=handle, posted_at=REPOST_TIME,
                           text=f"{title}\n{body}", truth="promotion", category=None, evasion=(),
                           repost_of=ad_id if source == "social" else None, comments=())  # fmt: skip
        self.social.add(new_post)
        return new_post.path


def _json(data: dict, status: int = 200) -> Reply:
    return Reply(status, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode("utf-8"))
