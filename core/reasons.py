"""The reasons our code records in English, read in Chinese: a crawl run's reason, a crawl error, a tip's fetch, a
re-check, a delivery that failed (an alert's, a batch's notice), a model that could not be used.

What is recorded stays English (the command line prints it, and a log line is searched as it was written); a
Chinese page shows it through these functions, the recorded text beside it (a tooltip), and the run's health
check writes its Chinese with them. Each knows a closed set of patterns, the texts that ``crawler/`` (errors.py,
netpolicy.py, pagecheck.py, extensions.py, recheck.py, node.py), ``adclear/tips.py``, ``adclear/recheck.py``,
``review/mail.py``, ``review/alertsend.py``, ``classifier/model.py`` and ``core/models.py`` write; a text none
of them matches gives None (the caller shows it as it was), never a guess. What a pattern takes from the text (a
URL, a host, an error's own words) is put into the Chinese as it was, never translated: crawled text is not ours
to reword, and the page escapes it like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.addresses import NOT_PUBLIC, PROBLEMS, SEEDS_HINT, SEEDS_HINT_ZH, TIP_HINT, TIP_HINT_ZH

__all__ = [
    "RUN_WORDS",
    "delivery_error_zh",
    "error_kind_zh",
    "error_zh",
    "fetch_detail_zh",
    "model_error_zh",
    "recheck_detail_zh",
    "run_reason_zh",
]

Translate = Callable[[str], str | None]


@dataclass(frozen=True)
class Pattern:
    """A text as it is written (a regular expression matched in full) and its Chinese, a ``str.format`` template
    of the expression's groups; ``parts`` names the groups that are themselves read in Chinese: when one of them
    cannot be, the pattern does not match (the next is tried), so that no English is passed off as read."""

    english: str
    zh: str
    parts: Mapping[str, Translate] = field(default_factory=dict)


def _reader(patterns: tuple[Pattern, ...]) -> Translate:
    compiled = [(re.compile(p.english, re.DOTALL), p) for p in patterns]

    def read(text: str) -> str | None:
        for regex, p in compiled:
            found = regex.fullmatch(text)
            if found is not None:
                values = {k: v or "" for k, v in found.groupdict().items()}
                read = {name: part(values[name]) for name, part in p.parts.items()}
                if None not in read.values():
                    return p.zh.format(**(values | read))
        return None

    return read


def _words(table: Mapping[str, str]) -> Translate:
    return table.get


def _as_written(read: Translate) -> Translate:
    """A part that is shown as it was written when it cannot be read (an error's own words inside our frame)."""
    return lambda text: read(text) or text


# ---- crawl errors (crawl_errors.kind and .message; docs/operations.md#error-kinds) ----------------------------
_KINDS = {
    "refused": "连接被拒绝", "dns": "域名无法解析", "timeout": "超时", "connection_lost": "连接中断",
    "connect": "无法连接", "data_loss": "内容不完整", "too_large": "网页过大", "too_complex": "网页过于复杂",
    "redirect_loop": "跳转循环", "not_html": "不是网页", "extract": "未读到广告", "parse": "解析出错",
    "store": "保存出错", "browser": "浏览器", "render_timeout": "渲染超时", "render": "渲染出错",
    "robots": "robots.txt 禁止", "offsite": "站外网址", "blocked": "已拦截", "cancelled": "已取消",
    "ignored": "已忽略", "image": "图片",
}  # fmt: skip


def error_kind_zh(kind: str) -> str | None:
    """A ``crawl_errors.kind`` in Chinese (``http_404``: HTTP 404)."""
    found = re.fullmatch(r"http_(\d{3})", kind)
    return f"HTTP {found[1]}" if found else _KINDS.get(kind)


_PROBLEMS = {english: zh for _, english, zh in PROBLEMS} | {NOT_PUBLIC[0]: NOT_PUBLIC[1]}
_problem = _reader(
    (
        Pattern(r"(?P<p>.+) \((?P<inner>\S+)\) inside an IPv6 address", "{p}（{inner}，嵌在 IPv6 地址中）",
                {"p": _words(_PROBLEMS)}),
        *(Pattern(re.escape(english), zh) for english, zh in _PROBLEMS.items()),
    )
)  # fmt: skip
_HINTS = {SEEDS_HINT: SEEDS_HINT_ZH, TIP_HINT: TIP_HINT_ZH}
_refused_what = _reader(
    (
        Pattern(r"(?P<host>\S+) resolves to (?P<a>\S+), (?P<p>.+)", "{host} 解析为 {a}，是{p}", {"p": _problem}),
        Pattern(r"(?P<a>\S+) is (?P<p>.+)", "{a} 是{p}", {"p": _problem}),
    )
)
_REFUSALS: tuple[Pattern, ...] = (  # crawler/netpolicy.py
    Pattern(r"not followed: a malformed URL", "未抓取：网址格式有误"),
    Pattern(r"not followed: (?:\S*|a relative): URL", "未抓取：网址须以 http:// 或 https:// 开头"),
    Pattern(r"not followed: the URL's port is malformed", "未抓取：网址的端口有误"),
    Pattern(r"not followed: the URL has no host", "未抓取：网址缺少主机名"),
    Pattern(r"not followed: (?P<host>\S+) is outside allowed_domains \(.*\)", "未抓取：{host} 不在本网站允许的域名内"),
    Pattern(r"not followed: (?P<host>\S+) is (?P<p>.+), outside allowed_domains",
            "未抓取：{host} 是{p}，且不在本网站允许的域名内", {"p": _problem}),
    Pattern(r"refused before connecting: (?P<what>.+) \(port (?P<port>\d+)(?:; allow_addresses has .* only)?\); "
            r"(?P<hint>.+)", "未连接即拒绝：{what}（端口 {port}）；{hint}",
            {"what": _refused_what, "hint": _HINTS.get}),
)  # fmt: skip
_MESSAGES: tuple[Pattern, ...] = (  # crawler/errors.py, pagecheck.py, extensions.py, spiders/classifieds.py
    Pattern(r"HTTP (?P<s>\d{3})", "HTTP {s}"),
    Pattern(r"the host name does not resolve: (?P<e>.*)", "域名无法解析：{e}"),
    Pattern(r"connection refused: is the site down\?", "连接被拒绝：网站是否已关闭？"),
    Pattern(r"the site did not answer in time", "网站未按时响应"),
    Pattern(r"the response ended before its Content-Length: truncated \(DOWNLOAD_FAIL_ON_DATALOSS\)",
            "响应在其 Content-Length 所示长度之前结束：内容不完整"),
    Pattern(r"the download was cancelled", "下载已取消"),
    Pattern(r"forbidden by robots\.txt", "robots.txt 禁止抓取"),
    Pattern(r"too many redirects \(a redirect loop\?\)", "跳转次数过多（跳转循环？）"),
    Pattern(r"request ignored", "请求被忽略"),
    Pattern(r"redirects back to a page already requested: (?P<hops>.*)", "跳转回已请求过的网页：{hops}"),
    Pattern(r"expected an HTML page, got (?P<t>.*)", "应为 HTML 网页，实为 {t}"),
    Pattern(r"the page is (?P<n>[\d,]+) bytes, more than DOWNLOAD_MAXSIZE \((?P<max>[\d,]+)\)",
            "网页有 {n} 字节，超过 DOWNLOAD_MAXSIZE（{max}）"),
    Pattern(r"more than (?P<n>[\d,]+) elements \(ADCLEAR_PAGE_MAX_ELEMENTS\): not parsed",
            "元素超过 {n} 个（ADCLEAR_PAGE_MAX_ELEMENTS），未解析"),
    Pattern(r"more than (?P<n>[\d,]+) elements \(ADCLEAR_PAGE_MAX_ELEMENTS\)",
            "元素超过 {n} 个（ADCLEAR_PAGE_MAX_ELEMENTS）"),
    Pattern(r"elements nested more than (?P<n>\d+) deep \(ADCLEAR_PAGE_MAX_DEPTH\)",
            "元素嵌套超过 {n} 层（ADCLEAR_PAGE_MAX_DEPTH）"),
    *_REFUSALS,
)  # fmt: skip
_message = _reader(_MESSAGES)
error_zh = _reader(  # a refusal is recorded about the page asked for, naming the hop refused (netpolicy.in_context)
    (
        Pattern(r"redirects to (?P<url>\S+): (?P<m>.+)", "跳转到 {url}：{m}", {"m": _message}),
        Pattern(r"the page ended at (?P<url>\S+): (?P<m>.+)", "网页最终到达 {url}：{m}", {"m": _message}),
        *_MESSAGES,
    )
)
"""A crawl error's message (``crawl_errors.message``) in Chinese."""


def _error_line(text: str) -> str | None:
    """``KIND URL: MESSAGE``, as a run's reason lists its first errors."""
    found = re.fullmatch(r"(?P<kind>[a-z0-9_]+) (?P<url>\S*): (?P<m>.*)", text, re.DOTALL)
    kind = error_kind_zh(found["kind"]) if found else None
    if found is None or kind is None:
        return None
    return f"{kind} {found['url']}：{error_zh(found['m']) or found['m']}"


def _error_lines(text: str) -> str:
    """The first errors of a run that fetched nothing, each read in Chinese where it can be."""
    if text == "no error recorded":
        return "未记录错误"
    return "；".join(_error_line(line) or line for line in re.split(r"; (?=[a-z0-9_]+ \S*: )", text))


def _kind_counts(text: str) -> str:
    pairs = [p.rpartition(" ") for p in text.split(", ")]
    return "，".join(f"{error_kind_zh(k) or k} {n}" for k, _, n in pairs)


# ---- a crawl run's reason (crawl_runs.reason) ------------------------------------------------------------------
RUN_WORDS = {  # Scrapy's finish reasons and the recorder's own, (Chinese, English as a reader says it)
    "finished": ("正常结束", "finished"),
    "shutdown": ("已停止，下次运行从断点继续", "stopped; the next run resumes"),
    "cancelled": ("已取消", "cancelled"),
    "closespider_timeout": ("达到时间上限", "time limit reached"),
    "closespider_pagecount": ("达到页面上限", "page limit reached"),
    "closespider_itemcount": ("达到条目上限", "item limit reached"),
    "closespider_errorcount": ("错误过多", "too many errors"),
    "write_error": ("数据库无法写入", "the database could not be written"),
    "the crawl process stopped before the run finished": ("抓取进程在运行结束前退出（下次运行时发现）", ""),
    "the crawl did not start": ("抓取未能开始", ""),
    "did not start": ("未能开始", ""),
}


def _run_word(text: str) -> str | None:
    return RUN_WORDS[text][0] if text in RUN_WORDS else None


# the entries a node sends (crawler/stream.py), as its reason counts them (crawler/node.py)
_SENT = {"pages": "页面", "ads": "广告", "images": "图片", "errors": "错误", "listed": "列表所见广告（未重抓）"}


def _sent(text: str) -> str | None:
    if text == "nothing":
        return "无"
    pairs = [re.fullmatch(r"(\d+) ([a-z]+)", p) for p in text.split(", ")]
    if not all(p is not None and p[2] in _SENT for p in pairs):
        return None
    return "，".join(f"{_SENT[p[2]]} {p[1]}" for p in pairs if p is not None)


run_reason_zh = _reader(
    (
        *(Pattern(re.escape(word), zh) for word, (zh, _) in RUN_WORDS.items()),
        Pattern(r"no page fetched \((?P<why>.*)\)", "未抓到任何页面（{why}）", {"why": _error_lines}),
        Pattern(r"(?P<n>\d+) of (?P<total>\d+) requests failed \((?P<rate>\d+%), above max_error_rate (?P<max>\d+%): "
                r"(?P<kinds>.*)\)", "{total} 个请求中 {n} 个失败（{rate}，超过 max_error_rate {max}：{kinds}）",
                {"kinds": _kind_counts}),
        Pattern(r"the database could not be written: (?P<why>.*)", "数据库无法写入：{why}"),
        Pattern(r"spider (?P<name>\S+) has no site from seeds\.yml", "爬虫 {name} 在 seeds.yml 中没有对应的站点"),
        # a crawler node's own outcome (crawler/node.py)
        Pattern(r"sent (?P<f>.+) \(job (?P<job>\S+)\)", "已发送 {f}（任务 {job}）", {"f": _sent}),
        Pattern(r"Redis lost: (?P<why>.*)", "与 Redis 的连接中断：{why}"),
        Pattern(r"(?P<r>[a-z_]+); sent (?P<f>.+)", "{r}；已发送 {f}", {"r": _run_word, "f": _sent}),
    )
)  # fmt: skip
"""A crawl run's reason in Chinese."""

# ---- a tip's fetch (tips.fetch_detail: adclear/tips.py) --------------------------------------------------------
_fetch = _reader(
    (
        Pattern(r"(?P<url>\S+) (?P<s>\d{3}), archived in (?P<warc>\S+) \(SHA-256 (?P<sha>[0-9a-f]{64})\)",
                "{url} {s}，已存档于 {warc}（SHA-256 {sha}）"),
        Pattern(r"stored", "已保存"),
        Pattern(r"the page was fetched but held no text to read as an ad", "网页已抓取，但没有可作为广告读取的文字"),
        Pattern(r"the fetch did not run: (?P<why>.*)", "抓取未能进行：{why}", {"why": _as_written(run_reason_zh)}),
        Pattern(r"not fetched: (?P<host>\S+) does not resolve \((?P<e>.*)\)",
                "未抓取：{host} 无法解析（{e}），请核对网址"),
        Pattern(r"(?P<kind>[a-z0-9_]+): (?P<m>.+)", "{kind}：{m}", {"kind": error_kind_zh, "m": _as_written(error_zh)}),
    )
)  # fmt: skip


def fetch_detail_zh(text: str) -> str | None:
    """A tip's fetch detail in Chinese: what was fetched and archived, or why nothing was (a refusal: the network
    policy's words, with the tips' hint)."""
    return _fetch(text) or error_zh(text)


# ---- a re-check (rechecks.detail, the ledger's takedown_rechecked: crawler/recheck.py) ----------------------
recheck_detail_zh = _reader(
    (
        Pattern(r"the site answers (?P<s>\d{3}) \((?:Gone|Not Found)\)", "网站返回 {s}（网页已不存在）"),
        Pattern(r"the site answers (?P<s>\d{3}): says nothing about the ad; try again later",
                "网站返回 {s}：无法判断广告是否还在，请稍后再查"),
        Pattern(r"the ad's text is still there, unchanged", "广告内容仍在，未改动"),
        Pattern(r"the page says '(?P<marker>.*)'", "网页显示“{marker}”"),
        Pattern(r"the ad's text is gone: the site's detail selectors find nothing on the page",
                "广告内容已不在：按站点的选择器在网页上找不到内容"),
        Pattern(r"the ad's text is still there, edited \(a near-duplicate of what was confirmed\)",
                "广告内容仍在，已改动（与确认时的内容近似）"),
        Pattern(r"the ad's text is gone: the page shows other text", "广告内容已不在：网页显示的是其他内容"),
        # adclear/recheck.py and crawler/spiders/recheck.py: nothing to decide from
        Pattern(r"site (?P<site>\S+) is not in seeds\.yml: not re-checked", "站点 {site} 不在 seeds.yml 中：未复查"),
        Pattern(r"an ad slot on a list page, without a page of its own: check it by hand",
                "列表页上的广告位，没有单独的网页：请人工核查"),
        Pattern(r"no answer: the re-check stopped first", "没有结果：复查在此之前已停止"),
        Pattern(r"(?P<kind>[a-z0-9_]+): (?P<m>.+)", "{kind}：{m}", {"kind": error_kind_zh, "m": _as_written(error_zh)}),
    )
)  # fmt: skip
"""A re-check's detail in Chinese."""

# ---- a delivery that failed (alert_deliveries.error: review/alertsend.py; dispatch_batches.delivery_detail and
# an alert's e-mail: review/mail.py, whose Chinese these are) ----------------------------------------------------
delivery_error_zh = _reader(
    (
        Pattern(r"the mail server (?P<w>\S+) refused the recipient (?P<to>.+?): (?P<r>.*)",
                "邮件服务器 {w} 拒收收件人 {to}：{r}"),
        Pattern(r"the mail server (?P<w>\S+) refused the login: check the SMTP user and password",
                "邮件服务器 {w} 拒绝登录：请管理员检查 SMTP 用户名和密码"),
        Pattern(r"the mail server (?P<w>\S+) refused the message: (?P<r>.*)", "邮件服务器 {w} 拒收邮件：{r}"),
        Pattern(r"cannot deliver through the mail server (?P<w>\S+): (?P<e>.*)", "无法通过邮件服务器 {w} 发送：{e}"),
        Pattern(r"the mail server (?P<w>\S+) refused (?P<to>.+?): (?P<r>.*)", "邮件服务器 {w} 拒收 {to}：{r}",
                {"to": lambda text: text.replace(", ", "、")}),
        Pattern(r"no mail server: set ADCLEAR_SMTP_HOST and ADCLEAR_SMTP_FROM \(docs/operations\.md\)",
                "未配置邮件服务器：请设置 ADCLEAR_SMTP_HOST 和 ADCLEAR_SMTP_FROM（见 docs/operations.md）"),
        Pattern(r"(?P<w>\S+) answered something that is not a robot's JSON", "{w} 的回应不是机器人的 JSON"),
        Pattern(r"(?P<w>\S+) refused the message: errcode (?P<r>.*)", "{w} 拒收消息：errcode {r}"),
        Pattern(r"(?P<w>\S+) answered HTTP (?P<r>.*)", "{w} 返回 HTTP {r}"),
        Pattern(r"cannot reach (?P<w>\S+): (?P<e>.*)", "无法连接 {w}：{e}"),
        Pattern(r"the channel (?P<c>.+) is no longer in alerts\.yml", "alerts.yml 中已没有渠道 {c}"),
    )
)  # fmt: skip
"""Why an alert or a batch's notice could not be delivered, in Chinese."""

# ---- a model that could not be used (a verdict's model.error: classifier/model.py's ModelError, core/models.py) --
model_error_zh = _reader(
    (  # core/models.py: the model the ledger names cannot be used
        Pattern(r"(?P<p>.+): the promoted model file is missing \(ledger entry (?P<s>\d+)\)",
                "{p}：启用的模型文件不存在（台账记录 {s}）"),
        Pattern(r"(?P<p>.+): the promoted model file no longer matches its SHA-256 in ledger entry (?P<s>\d+)",
                "{p}：启用的模型文件与台账记录 {s} 中的 SHA-256 不再一致"),
        Pattern(r"(?P<p>.+): no model file there", "{p}：没有模型文件"),
        Pattern(r"(?P<p>.+): cannot be read \((?P<e>.*)\)", "{p}：无法读取（{e}）"),
        Pattern(r"(?P<p>.+): not an adclear model \(no (?P<a>.+) array\)", "{p}：不是 adclear 的模型（缺少数组 {a}）"),
        Pattern(r"(?P<p>.+): damaged or not a model file \((?P<e>.*)\)", "{p}：文件已损坏或不是模型文件（{e}）"),
        Pattern(r"(?P<p>.+): model format (?P<f>.+); this adclear reads (?P<r>.+)",
                "{p}：模型格式为 {f}，本版 adclear 读取 {r}"),
        Pattern(r"(?P<p>.+): made for other features \((?P<m>.*)\) than this adclear computes; train it again",
                "{p}：模型所用的特征（{m}）与本版 adclear 计算的不同，请重新训练"),
        Pattern(r"(?P<p>.+): its description lacks (?P<e>.+)", "{p}：模型说明缺少 {e}"),
        Pattern(r"(?P<p>.+): arrays of the wrong shape for a (?P<b>\d+)-bit model of (?P<n>\d+) contrast\(s\)",
                "{p}：数组的形状与 {b} 位、{n} 个对比类别的模型不符"),
        Pattern(r"(?P<p>.+): a weight index lies outside the model's (?P<n>\d+) buckets",
                "{p}：有权重索引超出模型的 {n} 个桶"),
        Pattern(r"(?P<p>.+): weights that are not finite numbers", "{p}：有权重不是有限数值"),
        Pattern(r"(?P<p>.+): thresholds watch=(?P<w>\S+) and flag=(?P<f>\S+) are not 0 < watch <= flag <= 1",
                "{p}：阈值 watch={w}、flag={f} 不满足 0 < watch ≤ flag ≤ 1"),
    )
)  # fmt: skip
"""Why the learned scorer was not used for a verdict, in Chinese (the rules alone decided)."""
