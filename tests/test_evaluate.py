"""Evaluation reports: precision/recall/F1 for label 1, borderline rows, FP rate per kind, threshold sweep."""

from __future__ import annotations

import json

from classifier import Classifier
from classifier.evaluate import Counts, evaluate, read_jsonl

ROWS = [
    {"id": "p1", "text": "年化收益15%，保本保息，五万起投，加微信详谈", "label": 1, "kind": "ad"},
    {"id": "p2", "text": "原始股即将上市，内部认购，稳赚不赔", "label": 1, "kind": "ad"},
    {"id": "p3", "text": "欢迎来我们店里喝茶", "label": 1, "kind": "ad", "note": "borderline: no promise"},
    {"id": "n1", "text": "警惕“保本高收益”陷阱，远离非法集资", "label": 0, "kind": "antifraud"},
    {"id": "n2", "text": "今天天气很好", "label": 0, "kind": "ordinary"},
    {
        "id": "n3",
        "text": "月息3分，保本保息，稳赚不赔，加微信",
        "label": 0,
        "kind": "ordinary",
        "note": "mislabelled on purpose",
    },
]


def test_counts_and_rates():
    report = evaluate(ROWS, Classifier.default())
    o = report.overall
    assert (o.tp, o.fp, o.fn, o.tn) == (2, 1, 1, 2)
    assert o.precision == 2 / 3 and o.recall == 2 / 3
    assert abs(o.f1 - 2 / 3) < 1e-9
    clean = report.without_borderline
    assert (clean.tp, clean.fp, clean.fn, clean.tn) == (2, 1, 0, 2)
    assert clean.recall == 1.0
    assert report.per_kind["ordinary"].flagged == 1 and report.per_kind["ordinary"].n == 2
    assert report.per_kind["antifraud"].flagged == 0
    assert report.per_kind["ad"].positives == 3


def test_wrong_rows_carry_their_hits():
    report = evaluate(ROWS, Classifier.default())
    wrong = {w["id"]: w for w in report.wrong}
    assert set(wrong) == {"p3", "n3"}
    assert wrong["p3"]["predicted"] in ("watch", "clear") and wrong["p3"]["hits"] == []
    assert any(h.startswith("return.monthly_daily_rate:月息3分") for h in wrong["n3"]["hits"])


def test_threshold_sweep_is_monotone():
    report = evaluate(ROWS, Classifier.default(), thresholds=[0.5, 2.0, 4.0, 100.0])
    assert [t for t, *_ in report.sweep] == [0.5, 2.0, 4.0, 100.0]
    predicted = [n for *_, n in report.sweep]
    assert predicted == sorted(predicted, reverse=True)
    assert report.sweep[-1][3] == 0


def test_text_and_dict_reports():
    report = evaluate(ROWS, Classifier.default())
    text = report.to_text()
    assert "precision" in text and "without borderline" in text and "threshold sweep" in text
    assert "antifraud" in text and "p3  label=1" in text
    d = report.to_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["overall"]["tp"] == 2 and d["per_kind"]["ordinary"]["flagged"] == 1
    assert d["version"] == Classifier.default().version


def test_counts_without_predictions():
    c = Counts()
    assert c.precision == 1.0 and c.recall == 1.0 and c.fp_rate == 0.0
    c.add(0, False)
    assert c.fp_rate == 0.0 and c.n == 1


def test_read_jsonl(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a", "label": 1}\n\n{"text": "b", "label": 0}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"text": "a", "label": 1}, {"text": "b", "label": 0}]
