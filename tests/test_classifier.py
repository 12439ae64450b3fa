"""The classifier contract: verdicts, labels, categories, spans, explanations, neighbours, real data targets.

Every example here is written for this test suite; none is copied from the evaluation data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import (
    CATEGORIES,
    REJECT_REASONS,
    Classifier,
    Hit,
    Neighbour,
    Verdict,
    classify,
)
from classifier.evaluate import evaluate, read_jsonl

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_vocabulary():
    assert CATEGORIES[0] == "投资理财/P2P网贷" and CATEGORIES[-1] == "其他集资" and len(CATEGORIES) == 12
    assert REJECT_REASONS == ("防非宣传", "新闻报道", "持牌机构合规", "非集资广告", "其他")


PROMOTIONS = [
    ("本平台年化收益12%，保本保息，五万起投，名额有限，详情加薇信 lc8888", None),
    ("公司即将在海外上市，内部原始股限量认购，上市后溢价回购，联系电话13912345678", "私募股权/原始股"),
    ("投资养老公寓，预存十万元即可获得床位，年回报12%，欢迎来电咨询", "养老投资"),
    ("购买矿机每天分红，静态收益每天1%，推荐一人投资奖励10%，早加入早回本", "拉人头/层级返利"),
    ("消费全返！购物不花钱还能赚钱，每周固定返利，扫码下载APP注册", "消费返利/会员返利"),
    ("入社分红，存取自由，社员互助金月息1分，比银行利息高", "合作社/互助金"),
    ("云养殖项目：认养一头牛，年收益15%，到期回购，稳赚不赔", "种植养殖/认养"),
    ("商铺售后返租，每年租金回报8%，十年包租，零风险", "房产商铺返租/售后回购"),
    ("艺术品份额化交易，每天升值，今天买明天卖，轻松赚钱，加V了解", "收藏品/艺术品份额"),
    ("导师带单炒伦敦金，日收益3%，亏损包赔，进群免费体验", "境外投资/外汇贵金属"),
    ("穩賺不賠！月息三分，保本保息，加微信詳談", None),
    ("你只管出资，我们负责运营，坐等分红，每月稳定收益5000元", "其他集资"),
    ("P2P出借，年化百分之十二，新手专享加息券，百元起投，资金由第三方存管", "投资理财/P2P网贷"),
    ("数字货币投资平台，只涨不跌，一年收益翻十倍，不是资金盘，邀请好友投资返利5%", "虚拟货币/区块链"),
    ("本公司发行的养老服务卡，一次性缴费5万元，每月返还养老补贴600元，满五年全额退还本金", "养老投资"),
    ("生态茶园众筹，每亩认购价2万元，年分红不低于15%，五年后原价回购", None),
    ("加入我们的消费联盟，消费多少返多少，推荐三人即可回本，第四个人开始纯赚", "消费返利/会员返利"),
    ("XX链即将登陆国际交易所，现在认购1元一枚，上线后至少涨100倍，仅限前500名", "虚拟货币/区块链"),
    ("招聘仓库管理员，入职须缴纳风险保证金2万元，公司按月息1.5分付息，亲友也可以交钱参与", None),
    ("急需资金周转，现面向社会借款，月息三分，按月付息，一万起借，有意加V详谈", None),
    ("产权式酒店客房发售，签订返租协议，每年固定返还购房款的9%，第五年末按购房价110%回购", "房产商铺返租/售后回购"),
    # a promoter's own "we are no fundraising scheme" is not anti-fraud publicity
    ("我们从来不搞非法集资，正规公司，投资一万元每月返息300元，保本保息，名额有限", None),
]


@pytest.mark.parametrize(("text", "category"), PROMOTIONS, ids=[f"promotion{i}" for i in range(len(PROMOTIONS))])
def test_promotions_are_flagged_with_their_category(text, category):
    v = classify(text)
    assert v.label == "flag", v.explain()
    assert v.score >= 3.0
    if category:
        assert category in v.categories
    assert v.conditions["利诱性"]  # a promise of return, or a scheme that implies one
    assert any(
        h.kind == "signal"
        and h.name in ("contact_channel", "call_to_invest", "urgency", "promised_return", "guarantee")
        for h in v.hits
    )


LOOK_ALIKES = [
    "警惕“保本高收益”陷阱！天上不会掉馅饼，凡是承诺高息的投资都可能是非法集资，如发现线索请拨打举报电话。",
    "远离非法集资，守住钱袋子。不轻信“稳赚不赔”“零风险”的宣传，投资理财请认准正规金融机构。",
    "防范非法集资宣传月：以“养老投资”“消费返利”为幌子的，务必提高警惕，谨防上当受骗。",
    "记者从市公安局获悉，该公司以年化收益20%为诱饵吸收公众存款，法院一审以非法吸收公众存款罪判处被告人有期徒刑五年。",
    "据了解，该平台对外宣称保本保息、月息3分，投资人无法提现后报案，警方已立案侦查。",
    "理财非存款，产品有风险，投资须谨慎。本产品业绩比较基准3.5%，过往业绩不代表未来表现。",
    "【某某银行】尊敬的客户，我行大额存单3年期利率2.6%，20万元起存，受存款保险保护，详询网点。",
    "个人消费贷款，额度最高30万，月息低至3厘，当天放款，无抵押，欢迎咨询13812345678",
    "招聘理财顾问：岗位职责：负责客户开发与维护；任职要求：本科及以上学历，底薪5000加提成。",
    "精装两居室整租，押一付三，月租3500元，拎包入住，联系房东13800001111",
    "今天天气不错，我们一起去公园散步吧。",
    "为什么年化收益率超过6%就要打问号？因为正规理财产品的收益很少能长期超过这个水平。",
    "这家公司打出“年化18%、保本保息”的招牌，短短半年就吸纳了上千万元。",
    "有市民反映，某公司在小区门口发放传单，宣称投资养老项目每月返息1.5%。",
    "某某银行理财产品“稳利”系列，业绩比较基准3.2%-3.8%，风险等级R2，理财非存款。",
    "示范小额贷款公司经批准设立，经营贷年化利率7.2%至12%，当天放款，本公司不向社会公众吸收存款。",
    "出租：市中心商铺一间，60平米，年租金8万元，可办公可经营，有意者电话联系。",
    "康乐养老中心在民政部门备案，床位充足，每月收费2000元起，入住收押金，退住时退还。本中心不收取预付费，不销售会员卡，不搞任何投资项目。",
]


@pytest.mark.parametrize("text", LOOK_ALIKES, ids=[f"look_alike{i}" for i in range(len(LOOK_ALIKES))])
def test_look_alikes_are_not_flagged(text):
    v = classify(text)
    assert v.label != "flag", v.explain()


@pytest.mark.parametrize("text", LOOK_ALIKES[:5], ids=[f"warning_or_news{i}" for i in range(5)])
def test_anti_fraud_publicity_and_news_come_out_clear(text):
    v = classify(text)
    assert v.label == "clear"
    assert v.score == 0
    assert any(h.kind == "exculpatory" and h.weight < 0 for h in v.hits)


def test_verdict_contract():
    text = "保 本 保 息！年化百分之十五，五万起投，加薇信 abc12345"
    v = classify(text, title="稳赚项目", url="https://example.invalid/ad/1")
    assert isinstance(v, Verdict)
    assert v.label == "flag"
    assert all(isinstance(h, Hit) for h in v.hits)
    kinds = {(h.rule_id, h.kind, h.name) for h in v.hits}
    assert ("guarantee.principal", "signal", "guarantee") in kinds
    assert ("return.annual_rate", "signal", "promised_return") in kinds
    assert ("publicity.min_amount", "signal", "call_to_invest") in kinds
    assert ("publicity.contact_channel", "signal", "contact_channel") in kinds
    by_rule = {h.rule_id: h for h in v.hits}
    assert by_rule["guarantee.principal"].matched == "保 本 保 息"
    assert by_rule["return.annual_rate"].matched == "年化百分之十五"
    assert any(h.rule_id == "publicity.contact_channel" and h.matched == "加薇信" for h in v.hits)
    assert by_rule["return.annual_rate"].legal_basis.startswith("《广告法》第二十五条")
    title_hits = [h for h in v.hits if h.field == "title"]
    assert title_hits and all("稳赚项目"[h.start : h.end] == h.matched for h in title_hits)
    for h in v.hits:
        source = text if h.field == "text" else "稳赚项目"
        assert source[h.start : h.end] == h.matched
    d = v.to_dict()
    assert set(d) == {"score", "label", "categories", "hits", "nearest", "version", "rules_label", "model"}
    assert d["model"]["version"] == Classifier.default().model.version and 0 <= d["model"]["score"] <= 1
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["version"] == Classifier.default().version
    assert d["hits"][0]["rule_id"] and "start" in d["hits"][0] and d["hits"][0]["field"] in ("title", "text")


def test_explain_names_rule_words_and_legal_basis():
    lines = classify("原始股即将上市，公司内部认购，保本保息").explain()
    assert lines[0].startswith("结论：flag（疑似违法集资广告），得分")
    assert "利诱性✓" in lines[0]
    assert "涉嫌类型：私募股权/原始股" in lines
    assert any(
        "规则 equity.original_shares 命中正文“原始股" in line and "最高法非法集资司法解释(2022)第二条第(五)项" in line
        for line in lines
    )
    assert any("规则 guarantee.principal 命中正文“保本保息”" in line for line in lines)


def test_categories_strongest_first():
    v = classify("原始股内部认购；认养一头牛年收益15%，认购林权年年分红")
    assert v.categories == ["种植养殖/认养", "私募股权/原始股"]  # two agriculture rules outweigh one equity rule


def test_signals_alone_without_inducement_are_not_flagged():
    v = classify("加微信，进群，名额有限，先到先得，立即加入")
    assert v.label != "flag"


def test_classification_is_deterministic():
    text = PROMOTIONS[0][0]
    assert classify(text).to_dict() == classify(text).to_dict()
    assert classify(text).to_dict() == Classifier.default().classify(text).to_dict()


def test_testing_rules_are_reported_but_do_not_score(tmp_path):
    (tmp_path / "r.yml").write_text(
        """
rules:
  - id: g.active
    signal: guarantee
    weight: 3
    legal_basis: ad.25
    patterns: ['保本']
  - id: g.trial
    signal: promised_return
    weight: 3
    status: shadow
    legal_basis: ad.25
    patterns: ['高息']
""",
        encoding="utf-8",
    )
    clf = Classifier.from_directory(tmp_path)
    v = clf.classify("保本高息")
    trial = [h for h in v.hits if h.rule_id == "g.trial"]
    assert trial and trial[0].weight == 0 and trial[0].status == "shadow"
    assert v.score == 3.0
    assert any("试行规则，不计分" in line for line in v.explain())


def test_two_patterns_of_a_rule_on_the_same_words_are_one_hit(tmp_path):
    """A rule's patterns may overlap (a phrase and a broader form of it): the words they both match are shown
    and stored once; a second place in the text is still a hit of its own."""
    (tmp_path / "r.yml").write_text(
        """
rules:
  - id: g.principal
    signal: guarantee
    weight: 2
    legal_basis: ad.25
    patterns: ['本金全额返还', '本金(?:全额)?返还']
""",
        encoding="utf-8",
    )
    v = Classifier.from_directory(tmp_path).classify("到期本金全额返还，不满意也本金全额返还", title="本金全额返还")
    assert [(h.field, h.start, h.matched) for h in v.hits] == [
        ("title", 0, "本金全额返还"),
        ("text", 2, "本金全额返还"),
        ("text", 13, "本金全额返还"),
    ]
    assert v.score == 2.0  # a rule counts once, as before


class FakeSource:
    """A NeighbourSource that answers from a fixed list and remembers what it was asked."""

    def __init__(self, answer: list[Neighbour]):
        self.answer = answer
        self.asked: list[str] = []

    def nearest(self, normalized_text: str, *, limit: int = 3, fingerprints: object = None) -> list[Neighbour]:
        self.asked.append(normalized_text)
        return self.answer[:limit]


def test_confirmed_neighbour_flags_whatever_the_rules_say():
    source = FakeSource([Neighbour(7, "confirmed", "simhash", 3, 0.95)])
    v = Classifier.default().classify("今天天气不错，我们一起去公园散步吧。", neighbours=source)
    assert v.label == "flag"
    assert v.nearest == source.answer
    assert "与已确认违法广告 #7 近似（距离 3）" in v.explain()
    assert v.to_dict()["nearest"] == [
        {"ad_id": 7, "index": "confirmed", "method": "simhash", "distance": 3, "similarity": 0.95}
    ]


def test_neighbours_are_asked_with_normalised_text():
    source = FakeSource([])
    Classifier.default().classify("穩賺 不賠", neighbours=source)
    assert source.asked == ["稳赚不赔"]


def test_rejected_neighbour_lowers_the_score_but_not_below_zero():
    clf = Classifier.default()
    text = "本项目年化收益12%，保本保息，五万起投"
    plain = clf.classify(text)
    source = FakeSource([Neighbour(9, "rejected", "minhash", 2, 0.9)])
    v = clf.classify(text, neighbours=source)
    penalty = clf.scoring.rejected_penalty
    assert v.score == pytest.approx(max(0.0, plain.score - penalty))
    assert any(line.startswith("与已驳回广告 #9 近似（距离 2）") for line in v.explain())
    low = clf.classify("加微信了解", neighbours=source)
    assert low.score == 0.0


def test_rejected_neighbour_can_turn_a_flag_into_watch():
    clf = Classifier.default()
    text = "年化收益12%，百元起投"  # just over the flag threshold
    assert clf.classify(text).label == "flag"
    v = clf.classify(text, neighbours=FakeSource([Neighbour(4, "rejected", "exact", 0, 1.0)]))
    assert v.label != "flag"


def test_closer_confirmed_neighbour_cancels_the_rejected_penalty():
    clf = Classifier.default()
    text = "本项目年化收益12%，保本保息，五万起投"
    plain = clf.classify(text)
    both = [Neighbour(1, "confirmed", "exact", 0, 1.0), Neighbour(2, "rejected", "simhash", 5, 0.8)]
    v = clf.classify(text, neighbours=FakeSource(both))
    assert v.score == plain.score and v.label == "flag"
    closer_rejected = [Neighbour(2, "rejected", "exact", 0, 1.0), Neighbour(1, "confirmed", "simhash", 6, 0.7)]
    v2 = clf.classify(text, neighbours=FakeSource(closer_rejected))
    assert v2.score < plain.score and v2.label == "flag"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120), st.text(max_size=30))
def test_never_raises_and_spans_match(text, title):
    v = classify(text, title=title)
    assert v.label in ("flag", "watch", "clear")
    assert v.score >= 0
    for h in v.hits:
        source = text if h.field == "text" else title
        assert 0 <= h.start <= h.end <= len(source)
        assert source[h.start : h.end] == h.matched


_ALPHABET = list("保本息年化收益率%月日三五十万百分之起投加微信薇vx稳赚不赔零风险原始股返利 ✦-\u200b，。1２3")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60))
def test_spans_match_on_evasion_heavy_text(text):
    for h in classify(text).hits:
        assert text[h.start : h.end] == h.matched
        assert h.matched.strip()


# --- real data (../shared/data): the acceptance targets -------------------------------------------------
def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (real evaluation data lives in ../shared/data, outside the repository)")
    return path


@pytest.mark.realdata
def test_real_dev_targets():
    report = evaluate(read_jsonl(_require(DATA / "real-dev.jsonl")), Classifier.default())
    assert report.overall.precision >= 0.90, report.to_text()
    assert report.overall.recall >= 0.85, report.to_text()
    assert report.without_borderline.precision >= 0.90, report.to_text()
    assert report.without_borderline.recall >= 0.85, report.to_text()
    anti = report.per_kind["antifraud_publicity"]
    assert anti.flagged / anti.n <= 0.05, report.to_text()


def _false_positive_rate(texts: list[str]) -> float:
    clf = Classifier.default()
    return sum(clf.classify(t).label == "flag" for t in texts) / len(texts)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["label00-last.csv", "label01-last.csv", "label02-last.csv", "label03-last.csv", "label04-last.utf8.csv"]
)
def test_telecom_fraud_texts_are_not_flagged(name):
    path = _require(DATA / "telecom_fraud_texts_5" / name)
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        texts = [row[0] for row in list(csv.reader(f))[1:] if row]
    assert len(texts) >= 900
    assert _false_positive_rate(texts) <= 0.005


@pytest.mark.realdata
def test_sms_ham_is_not_flagged():
    path = _require(DATA / "spam_sms_80w_sample" / "sms80w_first10k.tsv")
    texts = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            label, _, text = line.rstrip("\n").partition("\t")
            if label == "0":
                texts.append(text)
    assert len(texts) > 9000
    assert _false_positive_rate(texts) <= 0.005
