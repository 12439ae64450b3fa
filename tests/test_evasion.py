"""Evasions promoters use, undone by normalisation: each named case, the vocabulary's data, and real copies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from classifier import Classifier, classify
from classifier.normalize import normalize
from classifier.training import read_labelled
from classifier.vocabulary import DATA_DIR, build_homophones

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from evasions import EVASIONS, KEY_WORDS, cn_number, evade  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_homophones_json_is_generated_from_evasion_yml():
    """The committed table is what ``main()`` makes of evasion.yml (regenerate it after editing that)."""
    committed = json.loads((DATA_DIR / "homophones.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(build_homophones(), ensure_ascii=False, sort_keys=True))


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("宝本宝息", "保本保息"),  # homophones of the key words
        ("收溢稳定", "收益稳定"),
        ("投滋理财", "投资理财"),
        ("月利细三分", "月利息3分"),
        ("里财产品", "理财产品"),
        ("保夲保息", "保本保息"),  # variant glyphs
        ("収益穏定無険", "收益稳定无险"),
        ("銭生銭", "钱生钱"),
        ("baoben保息", "保本保息"),  # pinyin
        ("shou yi 高", "收益高"),
        ("nh 12%", "年化 12%"),  # pinyin initials before a rate
        ("nh百分之十二", "年化12%"),
        ("年\u3164化\u316418%", "年化18%"),  # separator characters
        ("保丶本丶保丶息", "保本保息"),
        ("年化1\u200b.\u200b25%", "年化1.25%"),  # zero-width characters around a decimal point
        ("年化百分之九~百分之十五", "年化9%~15%"),  # a range between Chinese numerals
        ("年 化 1 8 %", "年化18%"),  # letter-spaced digits
        ("這意味著穩賺", "这意味着稳赚"),  # traditional, and 著 as 着
    ],
)
def test_an_evasion_is_read_as_what_it_stands_for(written, read):
    assert normalize(written).text == read


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("青春年华", "青春年华"),  # a word that sounds like 年化
        ("收一下快递", "收一下快递"),  # 一 is too common to stand for 益
        ("受益匪浅", "受益匪浅"),
        ("微信:licai888", "微信:licai888"),  # an account name in pinyin stays
        ("lx 13800138000", "lx 13800138000"),  # initials before a phone number are not a rate
        ("著名作家", "著名作家"),
        ("12 34", "12 34"),  # numbers apart stay apart
        ("3-5年", "3-5年"),
    ],
)
def test_what_only_looks_like_an_evasion_is_kept(text, kept):
    assert normalize(text).text == kept


def test_hits_on_an_evaded_text_point_at_what_was_written():
    text = "宝本宝息丶年化百分之九~百分之十五，nh 12%"
    v = classify(text)
    assert v.hits
    for h in v.hits:
        assert text[h.start : h.end] == h.matched


PROMOTIONS = [
    "本平台保本保息，年化收益12%，五万起投，名额有限，加微信详谈",
    "原始股即将上市，内部认购，保本保息，一年翻倍，投资5万元起",
    "认养一头牛，每年固定分红10%，三年后回购，稳赚不赔",
]


@pytest.mark.parametrize("kind", sorted(EVASIONS))
def test_each_kind_of_copy_is_made_and_still_flagged(kind):
    clf = Classifier.default()
    for i, text in enumerate(PROMOTIONS):
        copy = evade(text, kind, seed=i)
        assert copy != text
        assert clf.classify(text).label == "flag"
        assert clf.classify(copy).label == "flag", (kind, copy)


def test_the_generator_only_touches_key_words_for_word_edits():
    text = "今天天气很好，保本保息"
    copy = evade(text, "separators", seed=1)
    assert copy.startswith("今天天气很好，") and copy != text
    assert set(KEY_WORDS) >= {"保本", "收益", "投资", "利息"}
    assert [cn_number(n) for n in (5, 12, 105, 35000, 20)] == ["五", "十二", "一百零五", "三万五千", "二十"]


@pytest.mark.realdata
def test_copies_of_real_promotions_are_found_as_often_as_the_originals():
    """The bundled model on evasion copies of the real rows: recall within 0.05 of the originals', false
    positives on the same copies of the look-alikes not more than one row above the originals'. (The model
    was trained on these rows: benchmarks/bench_evasion.py measures the same out of fold.)"""
    if not (DATA / "real-train.jsonl").exists():
        pytest.skip(f"{DATA} is absent (real evaluation data lives outside the repository)")
    rows = read_labelled(DATA / "real-dev.jsonl") + read_labelled(DATA / "real-train.jsonl")
    clf = Classifier.default()

    def counts(kind: str | None) -> tuple[float, int]:
        tp = fp = 0
        for i, r in enumerate(rows):
            text = r.text if kind is None else evade(r.text, kind, seed=i)
            title = r.title if kind is None else evade(r.title, kind, seed=i)
            flagged = clf.classify(text, title=title).label == "flag"
            tp += flagged and r.label == 1
            fp += flagged and r.label == 0
        return tp / sum(r.label for r in rows), fp

    recall, fp = counts(None)
    for kind in EVASIONS:
        r, f = counts(kind)
        assert r >= recall - 0.05, (kind, r, recall)
        assert f <= fp + 1, (kind, f, fp)
