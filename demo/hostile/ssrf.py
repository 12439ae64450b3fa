"""坏站示例 as an attacker's site: pages that try to make the crawler fetch an internal host (SSRF).

The "internal host" is any other server: by default the review web app's port on this machine
(``http://127.0.0.1:8732``); the tests run one of their own and set ``SsrfPages.internal``. The pages, under
``/hostile/ssrf/``:

- ``/hostile/ssrf/`` lists links for the plain crawler: a 302 to the internal host, the internal host itself,
  a host name that resolves to it, a name that resolves to a private address, and a 302 to that name;
- ``/hostile/ssrf/feed`` is a feed of posts for a rendered (social) site, each post trying one way out of the
  browser: an ``<img>``, ``fetch()``, a ``location.href`` navigation, a 302, a WebSocket, a preconnect, a
  service worker, an image on a host name that resolves to the internal host.

``resolve`` is the hostile demo's resolver (``ADCLEAR_RESOLVER=demo.hostile.ssrf.resolve``): the names above
resolve to fixed addresses and no other name resolves, so nothing here ever asks a real DNS server.
"""

from __future__ import annotations

import html
import socket
from urllib.parse import urlsplit

from demo.reply import Reply

__all__ = ["HOSTS", "POSTS", "SsrfPages", "resolve"]

PREFIX = "/hostile/ssrf"
# names of the demo's pretend intranet: one is the internal server's loopback address, one a private address
HOSTS = {
    "intranet.test": "127.0.0.1",  # the internal server's address (it listens on another port than the demo)
    "private.test": "10.20.30.40",
    "demo.test": "127.0.0.1",  # the demo itself, by name
    "localhost": "127.0.0.1",
}
# post → (its text, what it tries), on the feed at /hostile/ssrf/feed
POSTS = {
    "img": ("高息理财 月息三分 图片在内网", "an <img> on the internal host"),
    "fetch": ("原始股认购 一股一元 数据来自内网接口", "fetch() to the internal host and to a name resolving to it"),
    "nav": ("养老项目 年化百分之十五 点击跳转", "location.href to the internal host, once the page has loaded"),
    "nav-now": ("养老项目 即刻跳转", "location.href to the internal host while the page loads"),
    "redirect": ("保本保息 内部消息", "a 302 to the internal host (the post itself)"),
    "socket": ("虚拟币挖矿 日赚千元 实时行情", "a WebSocket and a preconnect to the internal host"),
    "worker": ("消费全返 会员招募", "a service worker"),
    "named": ("私募份额 年化24%", "an <img> on intranet.test, which resolves to the internal host"),
}


def resolve(host: str) -> list[str]:
    """The demo's resolver: HOSTS only; any other name does not resolve (no packet leaves the machine)."""
    address = HOSTS.get(host.lower().rstrip("."))
    if address is None:
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: not a name of the hostile demo")
    return [address]


def _page(title: str, body: str, extra: str = "") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>{extra}</head>'
        f"<body>{body}</body></html>"
    )


class SsrfPages:
    def __init__(self, internal: str = "http://127.0.0.1:8732"):
        self.internal = internal  # base URL of the internal host the pages aim at

    @property
    def named(self) -> str:
        """The internal host under a name that resolves to it."""
        return f"http://intranet.test:{urlsplit(self.internal).port}"

    def page(self, path: str) -> Reply | None:
        if not path.startswith(PREFIX):
            return None
        rest = path.removeprefix(PREFIX).strip("/")
        if rest == "":
            return _html(self._list())
        if rest == "feed":
            return _html(self._feed())
        if rest == "go-internal":
            return Reply(302, "text/html", b"", headers={"Location": f"{self.internal}/redirect"})
        if rest == "go-private":
            return Reply(302, "text/html", b"", headers={"Location": "http://private.test/metadata"})
        if rest == "sw.js":
            return Reply(200, "text/javascript", f"fetch('{self.internal}/from-worker');".encode())
        if rest.startswith("p/") and rest[2:] in POSTS:
            return self._post(rest[2:])
        return Reply(404, "text/html; charset=utf-8", b"<h1>404</h1>")

    def _list(self) -> str:
        links = [
            f"{PREFIX}/go-internal",
            f"{self.internal}/direct",
            f"{self.named}/named",
            "http://private.test/latest/meta-data/",
            f"{PREFIX}/go-private",
        ]
        items = "".join(f'<li><a class="ad-title" href="{html.escape(h)}">{html.escape(h)}</a></li>' for h in links)
        return _page("坏站示例：内网", f'<ul class="ad-list">{items}</ul>')

    def _feed(self) -> str:
        cards = "".join(
            f'<article class="post-card"><a class="post-link" href="{PREFIX}/p/{name}">{html.escape(text)}</a>'
            "</article>"
            for name, (text, _) in POSTS.items()
        )
        return _page("坏站示例：动态", f'<div id="feed">{cards}</div>')

    def _post(self, name: str) -> Reply:
        if name == "redirect":
            return Reply(302, "text/html", b"", headers={"Location": f"{self.internal}/post-redirect"})
        text, _ = POSTS[name]
        internal, extra, script = self.internal, "", ""
        body = f'<h1 class="ad-title">{html.escape(text)}</h1><div class="ad-body post-text">{html.escape(text)}</div>'
        if name == "img":
            body += f'<img src="{internal}/img.png">'
        elif name == "named":
            body += f'<img src="{self.named}/img-named.png">'
        elif name == "fetch":
            script = f"fetch('{internal}/fetch').catch(() => 0); fetch('{self.named}/fetch-named').catch(() => 0);"
        elif name == "nav":
            script = f"addEventListener('load', () => setTimeout(() => {{ location.href = '{internal}/nav'; }}, 100));"
        elif name == "nav-now":
            script = f"location.href = '{internal}/nav-now';"
        elif name == "socket":
            extra = f'<link rel="preconnect" href="{internal}">'
            ws = internal.replace("http://", "ws://")
            script = f"try {{ new WebSocket('{ws}/socket'); }} catch (e) {{}}"
        elif name == "worker":
            script = f"navigator.serviceWorker && navigator.serviceWorker.register('{PREFIX}/sw.js').catch(() => 0);"
        if script:
            body += f"<script>{script}</script>"
        return _html(_page(text, body, extra))


def _html(text: str) -> Reply:
    return Reply(200, "text/html; charset=utf-8", text.encode("utf-8"))
