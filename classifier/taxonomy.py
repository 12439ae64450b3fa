"""The fixed vocabulary of the classifier: categories (涉嫌类型), signals, exculpatory cues, reject reasons
and the legal bases that rules cite.

Rule packs may only use names defined here; ``classifier.rules`` rejects anything else with a
``RulePackError``. Changing a name here is a schema change for stored verdicts and decisions.
"""

from __future__ import annotations

__all__ = [
    "CATEGORIES",
    "CATEGORY_LEGAL_BASIS",
    "EXCULPATORY",
    "LEGAL_BASES",
    "LEGAL_CONDITIONS",
    "REJECT_REASONS",
    "SIGNALS",
    "TEXT_KINDS",
    "resolve_legal_basis",
    "text_kind",
]

# 涉嫌类型, in the order of DOMAIN.md; exports and reports keep this order.
CATEGORIES: tuple[str, ...] = (
    "投资理财/P2P网贷",
    "私募股权/原始股",
    "养老投资",
    "虚拟货币/区块链",
    "消费返利/会员返利",
    "拉人头/层级返利",
    "合作社/互助金",
    "种植养殖/认养",
    "房产商铺返租/售后回购",
    "收藏品/艺术品份额",
    "境外投资/外汇贵金属",
    "其他集资",
)

# Signals feed the score and the explanation; they are not categories.
# name -> (Chinese label for reviewers, legal condition of SPC interpretation Art. 1 it evidences)
SIGNALS: dict[str, tuple[str, str]] = {
    "promised_return": ("承诺回报", "利诱性"),
    "guarantee": ("保本保收益承诺", "利诱性"),
    "contact_channel": ("联系渠道", "公开性"),
    "call_to_invest": ("招揽投资", "公开性"),
    "urgency": ("制造紧迫", "公开性"),
    "ad_voice": ("广告口吻", "公开性"),
    "scam_denial": ("自称非骗局", "利诱性"),
    "false_backing": ("虚假背书", "非法性"),
    "licensed_institution": ("持牌机构", "非法性"),
}

# Exculpatory cues: text that speaks ABOUT fundraising (warnings, news) or is licensed/ordinary business.
# name -> (Chinese label, reject reason it usually leads to)
EXCULPATORY: dict[str, tuple[str, str]] = {
    "antifraud": ("防非宣传用语", "防非宣传"),
    "news_or_court": ("新闻/司法报道用语", "新闻报道"),
    "reported_speech": ("转述他人宣传", "新闻报道"),
    "licensed_finance": ("持牌金融机构合规用语", "持牌机构合规"),
    "loan_ad": ("借款/贷款广告", "非集资广告"),
    "job_ad": ("招聘广告", "非集资广告"),
    "ordinary": ("普通商业或生活内容", "非集资广告"),
}

# Reasons a reviewer rejects a flag; the review UI shows them in this order.
REJECT_REASONS: tuple[str, ...] = ("防非宣传", "新闻报道", "持牌机构合规", "非集资广告", "其他")

# The kinds of text the learned scorer is trained to tell a promotion from (the ``kind`` of labelled rows; the
# corpora of ordinary text; kinds with too few rows together as "negative"), in Chinese and English. A
# reviewer's rejection becomes ``decision:rejected:<reason>`` (review.learning).
TEXT_KINDS: dict[str, tuple[str, str]] = {
    "antifraud_publicity": ("防非反诈宣传", "anti-fraud publicity"),
    "news_or_court": ("新闻或司法报道", "news and court reports"),
    "bank_ad": ("银行、保险机构文本", "bank and insurer text"),
    "other_finance_ad": ("其他金融广告", "other finance ads"),
    "ordinary": ("普通帖子", "ordinary posts"),
    "corpus": ("普通短信等语料", "corpora of ordinary text"),
    "negative": ("其他非集资文本", "other text that is no promotion"),
    "decision:rejected": ("审核员驳回的广告", "ads reviewers rejected"),
}


def text_kind(kind: str, english: bool = False) -> str:
    """A kind of text (``TEXT_KINDS``) as a reader names it; a reviewer's rejection with its reason."""
    base, _, reason = kind.partition(":rejected:") if kind.startswith("decision:") else (kind, "", "")
    name = TEXT_KINDS.get("decision:rejected" if reason else base)
    if name is None:
        return kind
    text = name[1] if english else name[0]
    if not reason:
        return text
    return f"{text} ({reason})" if english else f"{text}（{reason}）"


# The four conditions of SPC interpretation (2022) Art. 1, as reviewers name them.
LEGAL_CONDITIONS: tuple[str, ...] = ("非法性", "公开性", "利诱性", "社会性")

_SPC = "最高法非法集资司法解释(2022)"
_ORD = "《防范和处置非法集资条例》"

# Short keys a rule may use instead of spelling out the article; ``legal_basis`` may also be free text.
LEGAL_BASES: dict[str, str] = {
    "spc.1": f"{_SPC}第一条",
    "spc.2.1": f"{_SPC}第二条第(一)项",  # 返本销售、售后包租、约定回购、销售房产份额
    "spc.2.2": f"{_SPC}第二条第(二)项",  # 转让林权并代为管护
    "spc.2.3": f"{_SPC}第二条第(三)项",  # 代种植（养殖）、租种植、联合种植
    "spc.2.4": f"{_SPC}第二条第(四)项",  # 商品回购、寄存代售
    "spc.2.5": f"{_SPC}第二条第(五)项",  # 虚假转让股权、发售虚构债券
    "spc.2.6": f"{_SPC}第二条第(六)项",  # 假借境外基金、发售虚构基金
    "spc.2.7": f"{_SPC}第二条第(七)项",  # 假冒保险公司、伪造保险单据
    "spc.2.8": f"{_SPC}第二条第(八)项",  # 网络借贷、投资入股、虚拟币交易
    "spc.2.9": f"{_SPC}第二条第(九)项",  # 委托理财、融资租赁
    "spc.2.10": f"{_SPC}第二条第(十)项",  # 养老服务、养老项目、老年产品
    "spc.2.11": f"{_SPC}第二条第(十一)项",  # 民间"会""社"
    "spc.2.12": f"{_SPC}第二条第(十二)项",  # 其他
    "ord.9": f"{_ORD}第九条",
    "ord.11": f"{_ORD}第十一条",
    "ord.15": f"{_ORD}第十五条",
    "ad.25": "《广告法》第二十五条",
    "ad.28": "《广告法》第二十八条",
}

# The article a category rests on when a rule does not say otherwise.
CATEGORY_LEGAL_BASIS: dict[str, str] = {
    "投资理财/P2P网贷": LEGAL_BASES["spc.2.8"],
    "私募股权/原始股": LEGAL_BASES["spc.2.5"],
    "养老投资": LEGAL_BASES["spc.2.10"],
    "虚拟货币/区块链": LEGAL_BASES["spc.2.8"],
    "消费返利/会员返利": LEGAL_BASES["spc.2.4"],
    "拉人头/层级返利": LEGAL_BASES["spc.1"],
    "合作社/互助金": LEGAL_BASES["spc.2.11"],
    "种植养殖/认养": LEGAL_BASES["spc.2.3"],
    "房产商铺返租/售后回购": LEGAL_BASES["spc.2.1"],
    "收藏品/艺术品份额": LEGAL_BASES["spc.2.4"],
    "境外投资/外汇贵金属": LEGAL_BASES["spc.2.6"],
    "其他集资": LEGAL_BASES["spc.2.12"],
}


def resolve_legal_basis(value: str) -> str:
    """A rule's ``legal_basis``: a key of ``LEGAL_BASES`` is expanded, anything else is kept as written."""
    return LEGAL_BASES.get(value, value)
