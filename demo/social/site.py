"""示范圈: a local imitation of a public social feed whose pages only show anything once JavaScript runs.

Every HTML page is an empty shell: ``static/app.js`` fetches JSON from ``/social/api/…`` and builds the DOM,
so a crawler that does not render sees no post text at all. Pages:

- ``/social/``: the public feed, newest first, ``page_size`` posts at a time; a 加载更多 button loads the next
  ones until a 没有更多了 marker shows.
- ``/social/search?q=…``: posts containing the words, ``search_page_size`` at a time, loaded by infinite
  scroll (no button).
- ``/social/u/HANDLE``: one author's posts, like the feed.
- ``/social/p/ID``: a post with its author, time, text and comments (the author's own replies marked).

The content is data (``posts.yml``, with the ``truth`` and ``category`` fields of the classifieds demo).

Like a real platform after a takedown, a post can be taken down (``take_down``: its page still answers 200 but
says "该动态已被删除", and it leaves the feeds and searches) and put back (``restore``); ``add`` publishes a new
post (a repost).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qs

import yaml

__all__ = ["PREFIX", "Comment", "Post", "SocialSite"]

HERE = Path(__file__).parent
PREFIX = "/social"
PAGE_SIZE = 8  # posts per load of the feed
SEARCH_PAGE_SIZE = 5  # results per load of a search
STATIC = {"app.js": "application/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

Answer = tuple[int, str, bytes]


@dataclass(frozen=True)
class Comment:
    author: str
    posted_at: str
    text: str


@dataclass(frozen=True)
class Post:
    id: int
    author: str
    handle: str
    posted_at: str
    text: str
    truth: str
    category: str | None = None
    evasion: tuple[str, ...] = ()
    repost_of: int | None = None
    comments: tuple[Comment, ...] = field(default_factory=tuple)

    @property
    def promotion(self) -> bool:
        return self.truth == "promotion"

    @property
    def path(self) -> str:
        return f"{PREFIX}/p/{self.id}"

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.split("\n") if line.strip()]

    def card(self) -> dict:
        """What the feed API says of a post."""
        first = self.lines[0]
        return {
            "id": self.id,
            "author": self.author,
            "handle": self.handle,
            "posted_at": self.posted_at,
            "excerpt": first if len(first) <= 60 else first[:60] + "…",
            "url": self.path,
            "comments": len(self.comments),
        }

    def full(self) -> dict:
        """What the post API says of a post."""
        return {
            **self.card(),
            "text": self.lines,
            "comments": [
                {"author": c.author, "posted_at": c.posted_at, "text": c.text, "by_author": c.author == self.author}
                for c in self.comments
            ],
        }


class SocialSite:
    """Serves the site; ``page(path, query)`` returns (status, content type, body bytes) or None."""

    def __init__(
        self,
        posts_file: Path = HERE / "posts.yml",
        *,
        page_size: int = PAGE_SIZE,
        search_page_size: int = SEARCH_PAGE_SIZE,
    ):
        self.posts_file = posts_file
        self.page_size = page_size
        self.search_page_size = search_page_size
        self.removed: set[int] = set()  # posts taken down: a "deleted" page, in no feed

    def take_down(self, post_id: int, *, redirect: bool = False) -> bool:
        """The platform removes the post (always behind a 200 page: ``redirect`` is for the classifieds site);
        False when there is no such post."""
        if post_id not in self.by_id:
            return False
        self.removed.add(post_id)
        return True

    def restore(self, post_id: int) -> bool:
        """The post is put back as it was; False when there is no such post."""
        if post_id not in self.by_id:
            return False
        self.removed.discard(post_id)
        return True

    def add(self, post: Post) -> None:
        """Publish a new post (a repost): first in the feed."""
        if post.id in self.by_id:
            raise ValueError(f"post {post.id} exists")
        self.posts.append(post)
        self.by_id[post.id] = post

    @cached_property
    def posts(self) -> list[Post]:
        rows = yaml.safe_load(self.posts_file.read_text(encoding="utf-8"))
        posts = []
        for row in rows:
            row = dict(row)
            row["text"] = row["text"].strip()
            row["evasion"] = tuple(row.get("evasion") or ())
            row["comments"] = tuple(Comment(**c) for c in row.get("comments") or ())
            posts.append(Post(**row))
        return posts

    @cached_property
    def by_id(self) -> dict[int, Post]:
        return {p.id: p for p in self.posts}

    @property
    def newest_first(self) -> list[Post]:
        """The posts on show (not taken down), newest first."""
        shown = (p for p in self.posts if p.id not in self.removed)
        return sorted(shown, key=lambda p: (p.posted_at, p.id), reverse=True)

    def search(self, words: str) -> list[Post]:
        """Posts whose text or author contains every word of ``words`` (split on white space)."""
        terms = words.split()
        if not terms:
            return []
        return [p for p in self.newest_first if all(t in p.text or t in p.author for t in terms)]

    # ---- routing -------------------------------------------------------------------------------------
    def page(self, path: str, query: str = "") -> Answer | None:
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        rest = path[len(PREFIX) :]
        args = {k: v[0] for k, v in parse_qs(query).items()}
        if rest in ("", "/", "/index.html"):
            return self._html(self._shell("广场", "feed", source=f"{PREFIX}/api/feed", button=True))
        if rest == "/search":
            q = args.get("q", "").strip()
            title = f"搜索：{q}" if q else "搜索"
            return self._html(self._shell(title, "search", source=f"{PREFIX}/api/search?q={_url_arg(q)}", query=q))
        if rest.startswith("/u/"):
            handle = rest[3:]
            author = next((p.author for p in self.posts if p.handle == handle), None)
            if author is None:
                return self._not_found()
            return self._html(self._shell(author, "author", source=f"{PREFIX}/api/feed?author={handle}", button=True))
        if rest.startswith("/p/"):
            post = self.by_id.get(int(rest[3:])) if rest[3:].isdigit() else None
            if post is None:
                return self._not_found()
            if post.id in self.removed:  # as platforms do: 200, and a page that says so
                return self._html(self._shell("动态已删除", "deleted"))
            return self._html(self._shell("动态详情", "post", post_id=post.id))
        if rest.startswith("/api/"):
            return self._api(rest[5:], args)
        if rest.startswith("/static/") and rest[8:] in STATIC:
            return 200, STATIC[rest[8:]], (HERE / "static" / rest[8:]).read_bytes()
        return self._not_found()

    def _api(self, what: str, args: dict[str, str]) -> Answer:
        offset = int(args["offset"]) if args.get("offset", "").isdigit() else 0
        if what == "feed":
            posts = self.newest_first
            if args.get("author"):
                posts = [p for p in posts if p.handle == args["author"]]
            return self._json(self._slice(posts, offset, self.page_size))
        if what == "search":
            found = self._slice(self.search(args.get("q", "")), offset, self.search_page_size)
            for card in found["posts"]:  # search results show the whole text, as snippets do
                card["excerpt"] = "\n".join(self.by_id[card["id"]].lines)
            return self._json(found)
        if what.startswith("post/") and what[5:].isdigit() and int(what[5:]) in self.by_id:
            if int(what[5:]) in self.removed:
                return self._json({"error": "deleted"}, status=404)
            return self._json(self.by_id[int(what[5:])].full())
        return self._json({"error": "not found"}, status=404)

    def _slice(self, posts: list[Post], offset: int, size: int) -> dict:
        chunk = posts[offset : offset + size]
        more = offset + size < len(posts)
        return {"posts": [p.card() for p in chunk], "next": offset + size if more else None}

    # ---- answers -------------------------------------------------------------------------------------
    def _html(self, text: str, status: int = 200) -> Answer:
        return status, "text/html; charset=utf-8", text.encode("utf-8")

    def _json(self, data: dict, status: int = 200) -> Answer:
        return status, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode("utf-8")

    def _not_found(self) -> Answer:
        return self._html(self._shell("页面不存在", "missing"), status=404)

    def _shell(
        self,
        title: str,
        view: str,
        *,
        source: str = "",
        button: bool = False,
        query: str = "",
        post_id: int | None = None,
    ) -> str:
        """A page as served: no post text, only the places where app.js will put it."""
        data = f' data-view="{view}"'
        if source:
            data += f' data-source="{_esc(source)}"'
        if post_id is not None:
            data += f' data-post="{post_id}"'
        if view == "post":
            main = '<div id="post" class="post-view"></div>'
        elif view == "missing":
            main = '<p class="missing">该内容不存在或已被删除。</p>'
        elif view == "deleted":
            main = '<p class="deleted">该动态已被删除。</p>'
        else:
            heading = f"<h1>{_esc(title)}</h1>"
            main = heading + '<div id="feed" class="feed"></div><div class="feed-foot">'
            if button:
                main += '<button class="load-more" type="button" hidden>加载更多</button>'
            main += '<p class="feed-end" hidden>没有更多了</p><div class="sentinel"></div></div>'
        return (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_esc(title)} - 示范圈</title><link rel="stylesheet" href="{PREFIX}/static/style.css"></head>'
            f"<body{data}>"
            f'<header class="top"><a class="logo" href="{PREFIX}/">示范圈</a>'
            f'<form class="search" action="{PREFIX}/search">'
            f'<input name="q" value="{_esc(query)}" placeholder="搜索动态">'
            '<button type="submit">搜索</button></form></header>'
            f"<main>{main}<noscript>请启用 JavaScript 浏览示范圈。</noscript></main>"
            "<footer>示范圈 · 示范县 · 本站为演示站点，所有内容均为虚构</footer>"
            f'<script src="{PREFIX}/static/app.js"></script></body></html>'
        )


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _url_arg(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
