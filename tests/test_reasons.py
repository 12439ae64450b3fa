"""The reasons our code records in English, read in Chinese (``core.reasons``): every text is made here by the
code that writes it (the network policy, a failed request, a run's outcome, a tip's check, a re-check), so that a
reworded message shows up as a text the reader no longer knows; a text it does not know is not guessed at, and
what a reason quotes (a URL, a host) comes out as it was."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from scrapy import Request
from twisted.internet import error as tx
from twisted.python.failure import Failure

from adclear.tips import precheck, site_for
from classifier.model import DEFAULT_MODEL_PATH, ModelError, load_model
from classifier.neighbours import comparable_text
from core import reasons
from core.db import connect, immediate
from core.models import active_model, candidate_path
from core.seeds import Seeds
from crawler.errors import classify_failure
from crawler.extensions import run_outcome
from crawler.netpolicy import NetworkPolicy, in_context
from crawler.node import sent_figures
from crawler.recheck import RecheckTarget, SeenAd, decide
from crawler.store import CrawlStore
from crawler.stream import KINDS
from review import alerts, alertsend, ledger, mail
from review.alertconfig import AlertsConfig
from review.alertsend import deliver_pending
from review.mail import SmtpSettings
from tests.smtpinbox import free_port, smtp_server
from tests.test_web_tips import SEEDS as TIP_SEEDS
from tests.webdata import ensure_site
from tests.webhookinbox import webhook_server

HOSTILE_URL = "http://shop.test/p?q=<script>alert(1)</script>"  # a URL (no spaces: Scrapy quotes them)
POLICY = NetworkPolicy(["shop.test"])


@pytest.mark.parametrize(
    "url, addresses",
    [
        ("http://[::1", None),
        ("javascript:alert(1)", None),
        ("http://shop.test:99999/", None),
        ("http:///nohost", None),
        ("http://other.test/", None),
        ("http://10.1.2.3/", None),
        ("http://127.0.0.1/", None),
        ("http://shop.test/", ["10.20.30.40"]),
        ("http://shop.test/", ["169.254.169.254"]),
        ("https://shop.test/", ["::ffff:192.168.1.1"]),
        ("http://shop.test/", ["100.64.0.1"]),
        ("http://shop.test/", ["0.0.0.0"]),
    ],
)
def test_every_refusal_of_the_network_policy_reads_as_its_own_chinese(url, addresses):
    resolved = None if addresses is None else [ipaddress.ip_address(a) for a in addresses]
    refused = POLICY.refusal(url, resolved)
    assert refused is not None and refused.zh
    assert reasons.error_zh(refused.message) == refused.zh
    request = Request("http://shop.test/start", meta={"redirect_urls": ["http://shop.test/start"]})
    for final in (False, True):
        hop = in_context(POLICY.refusal(url, resolved), request, url, final=final)  # type: ignore[arg-type]
        assert reasons.error_zh(hop.message) == hop.zh


def no_such_host(host: str) -> list[str]:
    raise OSError(f"[Errno -2] Name or service not known: {host}")


def test_a_tips_refusal_reads_as_the_chinese_the_web_app_flashed():
    seeds = Seeds.model_validate(TIP_SEEDS)
    url = "http://private.test/admin"
    problem = precheck(url, site_for(seeds, url), lambda host: ["10.20.30.40"])
    assert problem is not None and problem.zh and "为线索放行" in problem.zh
    assert reasons.fetch_detail_zh(str(problem)) == problem.zh
    unresolved = precheck("http://nowhere.test/", site_for(seeds, url), no_such_host)
    assert reasons.fetch_detail_zh(str(unresolved)) == unresolved.zh  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "error, zh",
    [
        (tx.DNSLookupError("shop.test"), "域名无法解析："),
        (tx.ConnectionRefusedError(), "连接被拒绝：网站是否已关闭？"),
        (tx.TimeoutError(), "User timeout"),  # Twisted's own words, kept inside our frame
    ],
)
def test_failed_requests_read_in_chinese_as_a_tips_failure(error, zh):
    kind, message = classify_failure(Failure(error))
    read = reasons.fetch_detail_zh(f"{kind}: {message}")  # adclear.tips.outcome_of: "KIND: MESSAGE"
    assert read is not None and read.startswith(reasons.error_kind_zh(kind) + "：") and zh in read


def test_a_runs_outcome_reads_in_chinese_with_what_it_quotes_as_it_was(tmp_path):
    db_path = tmp_path / "adclear.db"
    db = connect(db_path)
    ensure_site(db, "shop")
    db.close()
    store = CrawlStore(db_path)
    site = SimpleNamespace(max_error_rate=0.5)
    nothing = store.begin_run("shop", "classifieds")
    store.record_error(nothing, url=HOSTILE_URL, kind="dns", message="the host name does not resolve: shop.test")
    store.record_error(nothing, url="http://shop.test/b", kind="http_503", message="HTTP 503")
    status, reason, _ = run_outcome(store, nothing, site, "finished")  # type: ignore[arg-type]
    assert status == "failed" and reason.startswith("no page fetched (")
    assert reasons.run_reason_zh(reason) == (
        f"未抓到任何页面（域名无法解析 {HOSTILE_URL}：域名无法解析：shop.test；HTTP 503 http://shop.test/b：HTTP 503）"
    )
    store.finish_run(nothing, status=status, reason=reason, pages=0, stats={}, warc_file=None)
    bad = store.begin_run("shop", "classifieds")
    store.db.execute(
        "INSERT INTO pages (run_id, url, status, fetched_at, length, payload_sha256, warc_file, warc_offset, "
        "warc_length) VALUES (?, 'http://shop.test/', 200, '2026-01-01', 1, 'x', 'w', 0, 1)",
        [bad],
    )
    for n in range(3):
        store.record_error(bad, url=f"http://shop.test/{n}", kind="timeout", message="the site did not answer in time")
    status, reason, _ = run_outcome(store, bad, site, "finished")  # type: ignore[arg-type]
    assert reasons.run_reason_zh(reason) == "4 个请求中 3 个失败（75%，超过 max_error_rate 50%：超时 3）"
    store.close()
    for word in ("finished", "shutdown", "closespider_timeout", "the crawl process stopped before the run finished"):
        assert reasons.run_reason_zh(word)
    sent = "sent 3 ads, 2 images, 12 pages (job 20261203-1)"  # as crawler/node.py counts what it sent
    assert reasons.run_reason_zh(sent) == "已发送 广告 3，图片 2，页面 12（任务 20261203-1）"
    for kind in set(KINDS) - {"end"}:  # every entry a node sends, counted in its reason as crawler/node.py says it
        assert reasons.run_reason_zh(f"sent {sent_figures(Counter({kind: 1}))} (job j)"), kind
    assert sent_figures(Counter()) == "nothing" and reasons.run_reason_zh("sent nothing (job j)")


def test_every_recheck_outcome_reads_in_chinese():
    promotion = "高端理财计划，保本保息，月息三分，年化收益百分之三十六，名额有限，欢迎加入我们的投资群，详询客服经理"
    target = RecheckTarget(1, 1, "http://shop.test/1", "h", comparable_text(promotion, "理财"))
    edited = SeenAd(title="理财", text=promotion.replace("三分", "两分"), content_hash="edited")
    seen = SeenAd(title="t", text="完全不同的一段文字，讲的是本县图书馆周末的开放时间和借书规则", content_hash="other")
    cases = [
        decide(target, 404, seen=None, page_text="", markers=()),
        decide(target, 410, seen=None, page_text="", markers=()),
        decide(target, 503, seen=None, page_text="", markers=()),
        decide(target, 200, seen=SeenAd(title="t", text="x", content_hash="h"), page_text="", markers=()),
        decide(target, 200, seen=None, page_text="该帖已被删除", markers=("该帖已被删除",)),
        decide(target, 200, seen=None, page_text="", markers=()),
        decide(target, 200, seen=seen, page_text="", markers=()),
        decide(target, 200, seen=edited, page_text="", markers=()),
    ]
    assert len({detail for _, detail in cases}) == 8  # every way decide() words it
    assert [reasons.recheck_detail_zh(detail) for _, detail in cases if not reasons.recheck_detail_zh(detail)] == []


def test_a_text_it_does_not_know_is_not_guessed_at():
    for text in ("", "something else went wrong", "dns: x", "hello: world", "sent 3 llamas (job 1)"):
        assert reasons.run_reason_zh(text) is None
    assert reasons.fetch_detail_zh("hello: world") is None
    assert reasons.error_zh("refused before connecting: my own words (port 80); call me") is None


def test_a_failed_delivery_reads_as_the_chinese_the_mail_module_wrote(tmp_path):
    down = SmtpSettings(host="127.0.0.1", port=free_port(), sender="chufei@sfx.example", timeout=5)
    with smtp_server() as (inbox, port):
        inbox.refuse.add("takedown@plat.example")
        refusing = SmtpSettings(host="127.0.0.1", port=port, sender="chufei@sfx.example", timeout=5)
        for settings in (down, refusing):
            with pytest.raises(mail.DeliveryFailed) as failed:
                mail.send(settings, to="takedown@plat.example", subject="删除通知", body="正文")
            assert reasons.delivery_error_zh(str(failed.value)) == failed.value.zh


def test_every_way_an_alert_fails_to_go_out_reads_in_chinese(db):
    alert_id = alerts.raise_alert(db, "test", "测试告警", "")
    errors = []
    with webhook_server() as hook:
        for answer, status, channel in (
            ({"errcode": 310000, "errmsg": "sign not match"}, 200, {"type": "dingtalk", "secret": "SECx"}),
            ({"errcode": 0}, 500, {"type": "webhook"}),
            (None, 200, {"type": "wecom"}),
            ({"errcode": 0}, 200, {"type": "email", "to": ["ops@sfx.example"]}),
        ):
            hook.answer, hook.status = answer, status  # None: an answer that is not JSON
            url = {} if channel["type"] == "email" else {"url": hook.url("/hook")}
            config = AlertsConfig.model_validate(
                {"retry": {"attempts": 1}, "channels": [{"name": "ops", **channel, **url}]}
            )
            alertsend.retry_failed(db, alert_id)
            deliver_pending(db, config, smtp=None)
            (delivery,) = alerts.deliveries(db, [alert_id])[alert_id]
            errors.append(delivery.error)
    down = f"http://127.0.0.1:{free_port()}/hook?key=secret"
    alertsend.retry_failed(db, alert_id)
    deliver_pending(db, AlertsConfig.model_validate({"channels": [{"name": "ops", "type": "webhook", "url": down}]}))
    errors.append(alerts.deliveries(db, [alert_id])[alert_id][0].error)
    read = [reasons.delivery_error_zh(e) for e in errors]
    assert None not in read, errors
    assert read[0].endswith("拒收消息：errcode 310000 sign not match") and read[1].startswith("http://127.0.0.1:")
    assert read[4].startswith("无法连接 http://127.0.0.1:") and "secret" not in read[4]


def _tampered(tmp_path, name: str, **change) -> str:
    """The bundled model's file with one array or its description changed; why it cannot be loaded."""
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    meta.update(change.pop("meta", {}))
    for key in change.pop("drop_meta", ()):
        meta.pop(key)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    arrays.update(change)
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelError) as failed:
        load_model(path)
    return str(failed.value)


def test_every_reason_a_model_is_not_used_reads_in_chinese(tmp_path, db):
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    np.savez(tmp_path / "empty.npz", nothing=np.zeros(1))
    problems = []
    for path in (tmp_path / "none.npz", tmp_path, tmp_path / "garbage.npz", tmp_path / "empty.npz"):
        with pytest.raises(ModelError) as failed:
            load_model(path)
        problems.append(str(failed.value))
    problems += [
        _tampered(tmp_path, "format", meta={"format": "other-9"}),
        _tampered(tmp_path, "features", meta={"features": "words"}),
        _tampered(tmp_path, "bits", drop_meta=("bits",)),
        _tampered(tmp_path, "shape", rule_weight=np.zeros(1, dtype=np.float32)),
        _tampered(tmp_path, "index", meta={"bits": 8}),
        _tampered(tmp_path, "finite", meta={"intercept": float("inf")}),
        _tampered(tmp_path, "thresholds", meta={"thresholds": {"flag": 0.2, "watch": 0.9}}),
    ]
    with immediate(db):
        ledger.append(
            db, actor="boss", action="model_promoted", ad_id=None, payload={"version": "m1", "sha256": "0" * 64}
        )
    problems.append(active_model(db).problem)
    candidate_path(db, "m1").parent.mkdir(parents=True, exist_ok=True)
    candidate_path(db, "m1").write_bytes(b"changed since")
    problems.append(active_model(db).problem)
    read = {problem: reasons.model_error_zh(problem) for problem in problems}
    assert [p for p, zh in read.items() if zh is None] == [] and len(read) == 13
    assert read[problems[0]] == f"{tmp_path / 'none.npz'}：没有模型文件"
