"""坏站示例: a site that misbehaves in every way a crawler meets in the wild, for the tests and the demo.

Its list pages (/hostile/, /hostile/p2.html) link to a few good ads and to: a 404, a 500, a 429 with
Retry-After (then the page), a redirect loop, a page that stalls, a 20 MB page, a PNG served where HTML was
expected, malformed and truncated HTML, pages in GBK and GB18030 whose declared charset lies or is missing, a
robots.txt-forbidden page, and links to other domains, private addresses and javascript: URLs, which a
crawler must never follow. ``TRAPS`` says what each is and what the crawler should record. Pages that try to
make the crawler reach an internal host (SSRF) are under /hostile/ssrf/ (demo/hostile/ssrf.py).
"""

from __future__ import annotations

import html
import threading

from demo.hostile.ssrf import SsrfPages
from demo.reply import Reply

__all__ = ["GOOD_ADS", "NUL_ADS", "OFFSITE_LINKS", "PARSE_BOMBS", "TRAPS", "HostileSite"]

PREFIX = "/hostile"
RETRY_AFTER = 2  # seconds the 429 page asks crawlers to wait

# path → (what it is, the crawl_errors kind the crawler records, or "" when the page must be stored as an ad)
TRAPS: dict[str, tuple[str, str]] = {
    "/hostile/ad/404.html": ("a page that does not exist", "http_404"),
    "/hostile/ad/500.html": ("a server error, every time", "http_500"),
    "/hostile/ad/429.html": (f"429 Too Many Requests with Retry-After: {RETRY_AFTER}, then the ad", ""),
    "/hostile/ad/loop-a.html": ("a redirect loop", "redirect_loop"),
    "/hostile/ad/stall.html": ("headers, then silence", "timeout"),
    "/hostile/ad/huge.html": ("a 20 MB page", "too_large"),
    "/hostile/ad/huge-unsized.html": ("a 20 MB page without a Content-Length", "too_large"),
    "/hostile/ad/offsite-redirect.html": ("a redirect to another site, not followed", "offsite"),
    "/hostile/ad/binary.html": ("a PNG image where HTML was expected", "not_html"),
    "/hostile/ad/nul-comment.html": ("a NUL byte in a comment before <html>, sent as text/html: browsers show it", ""),
    "/hostile/ad/untyped": ("HTML with a NUL byte, no Content-Type and no .html: browsers sniff it as HTML", ""),
    "/hostile/ad/malformed.html": ("HTML with unclosed tags: still an ad", ""),
    "/hostile/ad/truncated.html": ("a body shorter than its Content-Length", "data_loss"),
    "/hostile/ad/lying-charset.html": ("GBK bytes declared as UTF-8 in the header", ""),
    "/hostile/ad/no-charset.html": ("GBK bytes with no charset declared anywhere", ""),
    "/hostile/ad/gb18030.html": ("GB18030 with four-byte characters", ""),
    "/hostile/private/secret.html": ("forbidden by robots.txt", "robots"),
}
# pages that are cheap to send and costly to parse: each must be refused, not parsed, and not stall the crawl
PARSE_BOMBS: dict[str, tuple[str, str]] = {
    "/hostile/ad/attributes.html": ("a 1.9 MB page: one <div> with 200,000 attributes", "too_complex"),
    "/hostile/ad/deep.html": ("<div>s nested 20,000 deep", "too_complex"),
    "/hostile/ad/elements.html": ("300,000 empty elements", "too_complex"),
}
TRAPS.update(PARSE_BOMBS)
OFFSITE_LINKS = (
    "http://www.example.com/ad/1.html",
    "http://10.0.0.1/admin/",
    "http://192.168.1.1/",
    "http://172.16.5.4/ad.html",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:10.0.0.1]/",
    "javascript:alert(document.cookie)",
    "mailto:boss@example.com",
)
GOOD_ADS = {
    "good-1": (
        "内部认购原始股 即将上市",
        "公司即将在境外上市，现开放原始股内部认购，一股一元，上市后翻十倍。\n名额有限，加微信 ys_gu2026。",
    ),
    "good-2": ("出租两室一厅 押一付三", "小区环境好，家电齐全，月租1500元，押一付三，看房请致电。"),
    "good-3": ("招聘仓库管理员", "负责出入库登记，月薪四千，包住宿，有意者面谈。"),
}
# text of the charset pages: characters outside GB2312 (镕, 堃) and, for GB18030, outside GBK (𠮷, €)
CHARSET_ADS = {
    "lying-charset": ("月息三分 镕堃农业互助社入社分红", "社员入社即享分红，存取自由，月息三分，保本保息。"),
    "no-charset": ("老年保健品消费全返 堃康商城", "购买保健品消费全返，一年后本金全部返还。"),
    "gb18030": ("吉𠮷庄园认养果树 每年返利€", "认养一棵果树，年回报百分之十五，到期回购。"),
}
# pages that a NUL byte once hid from the crawler (a NUL made them "binary")
NUL_ADS = {
    "nul-comment": ("高息揽储 月息两分 保本保息", "存十万每月返息两千，随时可取，保本保息。"),
    "untyped": ("私募基金内部份额转让 年化24%", "内部份额转让，年化24%，满一年回购，联系王经理。"),
}
MALFORMED = (
    "<html><head><title>畸形页面</title><body><div class='ad-detail'><h1 class='ad-title'>养老公寓床位预售 年回报10%"
    "<div class='ad-body'><p>投资养老公寓，每年返还百分之十，<b>五年还本<p>名额有限<table><tr><td>电话 138 0000 4455"
)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _detail(title: str, body: str, charset: str = "utf-8", meta: bool = True) -> str:
    paragraphs = "".join(f"<p>{_esc(p)}</p>" for p in body.split("\n"))
    head = f'<meta charset="{charset}">' if meta else ""
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{_esc(title)}</title></head><body>"
        f'<article class="ad-detail"><h1 class="ad-title">{_esc(title)}</h1>'
        f'<div class="ad-body">{paragraphs}</div></article></body></html>'
    )


class HostileSite:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._429_count = 0
        self.ssrf = SsrfPages()  # /hostile/ssrf/: pages that try to reach an internal host

    def page(self, path: str) -> Reply | None:
        if not path.startswith(PREFIX):
            return None
        if path.startswith(PREFIX + "/ssrf"):
            return self.ssrf.page(path)
        if path in (PREFIX, PREFIX + "/", PREFIX + "/index.html"):
            return self._html(self._list(1))
        if path == PREFIX + "/p2.html":
            return self._html(self._list(2))
        if path == PREFIX + "/bombs.html":  # the parse bombs alone
            return self._html(self._links(list(PARSE_BOMBS), "解析炸弹"))
        name = path.rsplit("/", 1)[-1].removesuffix(".html")
        if path.startswith(PREFIX + "/ad/good-") and name in GOOD_ADS:
            return self._html(_detail(*GOOD_ADS[name]))
        handler = getattr(self, "_" + name.replace("-", "_"), None) if path.startswith(PREFIX + "/ad/") else None
        if handler is not None:
            return handler()
        if path == PREFIX + "/private/secret.html":
            return self._html(_detail("内部页面", "不应被抓取"))
        return Reply(404, "text/html; charset=utf-8", b"<h1>404</h1>")

    def _html(self, text: str) -> Reply:
        return Reply(200, "text/html; charset=utf-8", text.encode("utf-8"))

    def _list(self, number: int) -> str:
        traps = list(TRAPS)
        half = len(traps) // 2
        links = [f"{PREFIX}/ad/{name}.html" for name in GOOD_ADS] + traps[:half] if number == 1 else traps[half:]
        if number == 2:
            links += list(OFFSITE_LINKS)
        pager = f'<div class="pager"><a class="next" href="{PREFIX}/p2.html">下一页</a></div>' if number == 1 else ""
        return self._links(links, f"第{number}页", pager)

    def _links(self, links: list[str], heading: str, after: str = "") -> str:
        items = "".join(f'<li><a class="ad-title" href="{_esc(href)}">{_esc(href)}</a></li>' for href in links)
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>坏站示例</title></head><body>'
            f'<h1>坏站示例 {heading}</h1><ul class="ad-list">{items}</ul>{after}</body></html>'
        )

    # ---- the traps ----------------------------------------------------------------------------------
    def _404(self) -> Reply:
        return Reply(404, "text/html; charset=utf-8", "<h1>信息已删除</h1>".encode())

    def _500(self) -> Reply:
        return Reply(500, "text/html; charset=utf-8", b"<h1>Internal Server Error</h1>")

    def _429(self) -> Reply:
        with self._lock:
            self._429_count += 1
            first = self._429_count % 2 == 1
        if first:
            return Reply(429, "text/html; charset=utf-8", b"slow down", headers={"Retry-After": str(RETRY_AFTER)})
        return self._html(_detail("限流之后的广告 年化18% 保本", "耐心等待后才能看到：年化18%，保本保息，扫码进群。"))

    def _loop_a(self) -> Reply:
        return Reply(302, "text/html", b"", headers={"Location": f"{PREFIX}/ad/loop-b.html"})

    def _loop_b(self) -> Reply:
        return Reply(302, "text/html", b"", headers={"Location": f"{PREFIX}/ad/loop-a.html"})

    def _stall(self) -> Reply:
        return Reply(200, "text/html; charset=utf-8", _detail("永远等不到", "…").encode(), stall=30.0)

    def _huge(self) -> Reply:
        filler = "<p>" + "高收益" * 2000 + "</p>"
        body = _detail("巨型页面", "开头") + filler * ((20 * 1024 * 1024) // len(filler.encode()))
        return Reply(200, "text/html; charset=utf-8", body.encode())

    def _huge_unsized(self) -> Reply:
        reply = self._huge()
        reply.declared_length = -1  # no Content-Length: the size shows only while the body arrives
        return reply

    def _offsite_redirect(self) -> Reply:
        return Reply(302, "text/html", b"", headers={"Location": OFFSITE_LINKS[0]})

    def _binary(self) -> Reply:
        png = (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
            b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND"
            b"\xaeB`\x82"
        )
        return Reply(200, "image/png", png)

    def _nul_comment(self) -> Reply:
        return Reply(200, "text/html; charset=utf-8", b"<!--\x00-->" + _detail(*NUL_ADS["nul-comment"]).encode())

    def _untyped(self) -> Reply:
        page = _detail(*NUL_ADS["untyped"]).replace("</body>", "<!--\x00--></body>")
        return Reply(200, "", page.encode())

    def _attributes(self) -> Reply:
        attributes = " ".join(f"a{i}=x" for i in range(200_000))
        page = _detail("属性炸弹", "一个元素二十万个属性")
        return self._html(page.replace("<article", f"<div {attributes}></div><article"))

    def _deep(self) -> Reply:
        return self._html(_detail("嵌套炸弹", "两万层嵌套").replace("</article>", "<div>" * 20_000 + "</article>"))

    def _elements(self) -> Reply:
        return self._html(_detail("元素炸弹", "三十万个元素").replace("</article>", "<i></i>" * 300_000 + "</article>"))

    def _malformed(self) -> Reply:
        return Reply(200, "text/html; charset=utf-8", MALFORMED.encode("utf-8"))

    def _truncated(self) -> Reply:
        body = _detail("被截断的页面", "这一页的内容只传了一半").encode()
        return Reply(200, "text/html; charset=utf-8", body, declared_length=len(body) + 5000)

    def _lying_charset(self) -> Reply:
        # the header says UTF-8, the bytes are GBK, the meta tells the truth
        body = _detail(*CHARSET_ADS["lying-charset"], charset="gbk").encode("gbk")
        return Reply(200, "text/html; charset=utf-8", body)

    def _no_charset(self) -> Reply:
        body = _detail(*CHARSET_ADS["no-charset"], meta=False).encode("gbk")
        return Reply(200, "text/html", body)

    def _gb18030(self) -> Reply:
        body = _detail(*CHARSET_ADS["gb18030"], charset="gb18030").encode("gb18030")
        return Reply(200, "text/html; charset=gb18030", body)
