"""示范同城网: a local imitation of a Chinese county classifieds site, for the demo and the tests.

Pages: a home page with section links and the latest ads (linked with a tracking parameter, as real sites
do), list pages per section with six ads each and a 下一页 link, detail pages with title, body, contact,
author and time. The 老年生活 section is served in GBK, as many older Chinese sites still are. A promoted
slot links into /classifieds/user/, which robots.txt forbids.

Like a real platform after a takedown, an ad can be taken down (``take_down``: its page answers 410 Gone with a
"该信息已删除" page, or redirects to the home page, and it leaves every list) and put back (``restore``);
``add`` publishes a new ad (a repost).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qs, quote

import yaml

from demo import pictures
from demo.reply import Reply

__all__ = ["SECTIONS", "Ad", "ClassifiedsSite"]

HERE = Path(__file__).parent
PER_PAGE = 6
SECTIONS = {
    "licai": "投资理财",
    "zhaoshang": "招商加盟",
    "fangchan": "房产租售",
    "zhaopin": "招聘求职",
    "nongye": "农林牧渔",
    "bianmin": "便民信息",
    "laonian": "老年生活",
}
GBK_SECTIONS = {"laonian"}
PREFIX = "/classifieds"


@dataclass(frozen=True)
class Ad:
    id: int
    section: str
    title: str
    body: str
    contact: str
    author: str
    posted_at: str
    truth: str
    category: str | None = None
    evasion: tuple[str, ...] = ()
    repost_of: int | None = None
    # pictures in the ad's body, drawn when first asked for (demo/pictures.py): (text, variant, QR payload)
    pictures: tuple[tuple[str, str, str], ...] = ()

    @property
    def promotion(self) -> bool:
        return self.truth == "promotion"

    @property
    def path(self) -> str:
        return f"{PREFIX}/ad/{self.id}.html"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


class ClassifiedsSite:
    """Renders the site's pages; ``page(path)`` returns (status, content type, body bytes) or None."""

    def __init__(self, ads_file: Path = HERE / "ads.yml"):
        self.ads_file = ads_file
        self.removed: set[int] = set()  # ads taken down: 410 Gone, in no list
        self.redirected: set[int] = set()  # ads taken down whose page sends to the home page instead
        self._pictures: dict[str, bytes] = {}  # the ads' pictures as drawn, by name

    @property
    def listed(self) -> list[Ad]:
        """The ads on show: every ad but those taken down."""
        return [a for a in self.ads if a.id not in self.removed]

    def take_down(self, ad_id: int, *, redirect: bool = False) -> bool:
        """The platform removes the ad (``redirect``: its page then sends to the home page, as many sites do
        instead of an error); False when there is no such ad."""
        if ad_id not in self.by_id:
            return False
        self.removed.add(ad_id)
        (self.redirected.add if redirect else self.redirected.discard)(ad_id)
        return True

    def restore(self, ad_id: int) -> bool:
        """The ad is put back as it was; False when there is no such ad."""
        if ad_id not in self.by_id:
            return False
        self.removed.discard(ad_id)
        self.redirected.discard(ad_id)
        return True

    def add(self, ad: Ad) -> None:
        """Publish a new ad (a repost): on its own page, in its section and the latest."""
        if ad.id in self.by_id:
            raise ValueError(f"ad {ad.id} exists")
        self.ads.append(ad)
        self.by_id[ad.id] = ad

    @cached_property
    def ads(self) -> list[Ad]:
        rows = yaml.safe_load(self.ads_file.read_text(encoding="utf-8"))
        ads = []
        for row in rows:
            row = dict(row)
            row["evasion"] = tuple(row.get("evasion") or ())
            row["pictures"] = tuple(
                (p.get("text", ""), p.get("variant", "clean"), p.get("qr", "")) for p in row.get("pictures") or ()
            )
            row["body"] = row["body"].strip()
            ads.append(Ad(**row))
        return ads

    @cached_property
    def by_id(self) -> dict[int, Ad]:
        return {ad.id: ad for ad in self.ads}

    def section_ads(self, section: str) -> list[Ad]:
        # newest first, as list pages are
        return sorted((a for a in self.listed if a.section == section), key=lambda a: (a.posted_at, a.id), reverse=True)

    # ---- routing -------------------------------------------------------------------------------------
    def page(self, path: str) -> tuple[int, str, bytes] | Reply | None:
        if not path.startswith(PREFIX):
            return None
        rest = path[len(PREFIX) :]
        if rest in ("", "/", "/index.html"):
            return self._html(self.home())
        if rest.startswith("/ad/") and rest.endswith(".html"):
            try:
                ad = self.by_id[int(rest[4:-5])]
            except (ValueError, KeyError):
                return self._not_found()
            if ad.id in self.redirected:
                return Reply(302, "text/html; charset=utf-8", b"", headers={"Location": f"{PREFIX}/"})
            if ad.id in self.removed:
                return self._gone()
            return self._html(self.detail(ad), gbk=ad.section in GBK_SECTIONS)
        if rest.startswith("/img/") and rest.endswith(".png"):
            return self._picture(rest[5:-4])
        if rest.startswith("/user/"):
            return self._html(self._layout("推广", "<p>会员推广页面</p>"))
        parts = [p for p in rest.split("/") if p]
        if parts and parts[0] in SECTIONS and len(parts) <= 2:
            number = 1
            if len(parts) == 2:
                name = parts[1]
                if not (name.startswith("p") and name.endswith(".html") and name[1:-5].isdigit()):
                    return self._not_found()
                number = int(name[1:-5])
            body = self.list_page(parts[0], number)
            if body is None:
                return self._not_found()
            return self._html(body, gbk=parts[0] in GBK_SECTIONS)
        return self._not_found()

    def search_page(self, path: str, query: str) -> tuple[int, str, bytes] | None:
        """``/classifieds/search?q=WORDS&page=N``: ads whose title, text or contact has every word, newest first."""
        if path != f"{PREFIX}/search":
            return None
        args = {k: v[0] for k, v in parse_qs(query).items()}
        q = args.get("q", "").strip()
        number = int(args["page"]) if args.get("page", "").isdigit() else 1
        terms = q.split()
        found = [
            ad
            for ad in sorted(self.listed, key=lambda a: (a.posted_at, a.id), reverse=True)
            if terms and all(t in f"{ad.title}\n{ad.body}\n{ad.contact}" for t in terms)
        ]
        pages = max(1, -(-len(found) // PER_PAGE))
        if number < 1 or number > pages:
            return self._not_found()
        main = f'<h1>搜索：{_esc(q)}</h1><p class="search-info">共找到{len(found)}条信息</p>'
        main += self._ad_list(found[(number - 1) * PER_PAGE : number * PER_PAGE])
        if number < pages:
            href = f"{PREFIX}/search?q={quote(q)}&page={number + 1}"
            main += f'<div class="pager"><a class="next" href="{_esc(href)}">下一页</a></div>'
        return self._html(self._layout(f"搜索：{q}", main))

    def _html(self, text: str, *, gbk: bool = False) -> tuple[int, str, bytes]:
        if gbk:
            text = text.replace('<meta charset="utf-8">', '<meta charset="gbk">')
            return 200, "text/html; charset=gbk", text.encode("gbk")
        return 200, "text/html; charset=utf-8", text.encode("utf-8")

    def _picture(self, name: str) -> tuple[int, str, bytes]:
        """``/img/ID-N.png``: the ad's N-th picture, its text drawn over its QR code (made once, then kept)."""
        ad_id, _, number = name.partition("-")
        ad = self.by_id.get(int(ad_id)) if ad_id.isdigit() else None
        if ad is None or not number.isdigit() or not 1 <= int(number) <= len(ad.pictures):
            return self._not_found()
        if name not in self._pictures:
            self._pictures[name] = pictures.ad_picture(*ad.pictures[int(number) - 1])
        return 200, "image/png", self._pictures[name]

    def _not_found(self) -> tuple[int, str, bytes]:
        status, ctype, body = self._html(self._layout("页面不存在", "<p>您访问的页面不存在或已删除。</p>"))
        return 404, ctype, body

    def _gone(self) -> tuple[int, str, bytes]:
        """An ad the platform removed: 410 Gone, with the page such platforms show."""
        status, ctype, body = self._html(self._layout("信息已删除", '<p class="deleted">该信息已删除。</p>'))
        return 410, ctype, body

    # ---- pages ---------------------------------------------------------------------------------------
    def _layout(self, title: str, main: str) -> str:
        nav = "".join(f'<a href="{PREFIX}/{slug}/">{_esc(name)}</a>' for slug, name in SECTIONS.items())
        return (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{_esc(title)} - 示范同城网</title></head><body>"
            f'<header><a class="logo" href="{PREFIX}/">示范同城网</a>'
            f'<nav class="sections">{nav}</nav>'
            '<a class="login" href="/classifieds/user/login.html">登录</a>'
            ' <a class="partner" href="https://www.example.com/partner">合作伙伴</a></header>'
            f"<main>{main}</main>"
            "<footer>示范同城网 · 示范县 · 本站为演示站点，所有内容均为虚构</footer></body></html>"
        )

    def _ad_list(self, ads: list[Ad], *, tracking: str = "") -> str:
        items = []
        for ad in ads:
            href = ad.path + (f"?from={tracking}&utm_source=site" if tracking else "")
            items.append(
                f'<li class="ad-item"><a class="ad-title" href="{_esc(href)}">{_esc(ad.title)}</a>'
                f'<span class="meta">{_esc(ad.author)} · {_esc(ad.posted_at)}</span></li>'
            )
        return '<ul class="ad-list">' + "".join(items) + "</ul>"

    def home(self) -> str:
        latest = sorted(self.listed, key=lambda a: (a.posted_at, a.id), reverse=True)[:8]
        main = "<h1>最新发布</h1>" + self._ad_list(latest, tracking="home")
        return self._layout("首页", main)

    def list_page(self, section: str, number: int) -> str | None:
        ads = self.section_ads(section)
        pages = max(1, -(-len(ads) // PER_PAGE))
        if number < 1 or number > pages:
            return None
        chunk = ads[(number - 1) * PER_PAGE : number * PER_PAGE]
        main = f"<h1>{_esc(SECTIONS[section])}</h1>"
        if number == 1:
            # a paid slot, as real list pages carry; robots.txt keeps crawlers out of /classifieds/user/
            main += (
                '<ul class="ad-list promoted"><li class="ad-item top"><a class="ad-title" '
                f'href="{PREFIX}/user/promo-{section}.html">【置顶】商家推广位招租</a></li></ul>'
            )
        main += self._ad_list(chunk)
        pager = [f'<span class="page-info">第{number}页 / 共{pages}页</span>']
        if number > 1:
            prev = f"{PREFIX}/{section}/" if number == 2 else f"{PREFIX}/{section}/p{number - 1}.html"
            pager.append(f'<a class="prev" href="{prev}">上一页</a>')
        if number < pages:
            pager.append(f'<a class="next" href="{PREFIX}/{section}/p{number + 1}.html">下一页</a>')
        main += '<div class="pager">' + " ".join(pager) + "</div>"
        return self._layout(SECTIONS[section], main)

    def detail(self, ad: Ad) -> str:
        paragraphs = "".join(f"<p>{_esc(p)}</p>" for p in ad.body.split("\n") if p.strip())
        images = "".join(
            f'<p><img src="{PREFIX}/img/{ad.id}-{n}.png" alt="图片"></p>' for n in range(1, len(ad.pictures) + 1)
        )
        contact = f'<div class="contact">联系方式：{_esc(ad.contact)}</div>' if ad.contact else ""
        main = (
            f'<article class="ad-detail" data-id="{ad.id}">'
            f'<div class="crumbs"><a href="{PREFIX}/">首页</a> &gt; '
            f'<a href="{PREFIX}/{ad.section}/">{_esc(SECTIONS[ad.section])}</a></div>'
            f'<h1 class="ad-title">{_esc(ad.title)}</h1>'
            f'<div class="info">发布者：<span class="author">{_esc(ad.author)}</span> '
            f'发布时间：<span class="posted-at">{_esc(ad.posted_at)}</span></div>'
            f'<div class="ad-body">{paragraphs}{images}</div>{contact}'
            '<div class="report"><a href="/classifieds/user/report.html">举报此信息</a></div>'
            "</article>"
        )
        return self._layout(ad.title, main)
