"""The learned scorer trained over the kinds of text (``classifier.multinomial``): its contrasts, its scores as
training and classifying compute them, its explanation, and the first artifact format still read."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from classifier import Classifier
from classifier.features import RULE_FEATURES, RULE_SIGNS, bucket_array, model_view, shown
from classifier.model import LinearModel, ModelError, _savez_deterministic, load_model
from classifier.multinomial import MIN_CLASS_ROWS, classes_of, fit_multinomial
from classifier.rules import DEFAULT_RULES_DIR, load_rule_pack
from classifier.training import Row, Trainer, TrainParams
from tests.test_model import LOOKALIKES, PROMOTIONS

NEWS = ["法院以非法吸收公众存款罪判处被告人有期徒刑五年", "警方通报：某理财平台涉嫌集资诈骗，已立案侦查"]
WARNINGS = ["警惕保本高收益的骗局，远离非法集资，举报电话12345", "投资理财要谨慎，高息承诺背后往往是陷阱"]
ORDINARY = ["二手电动车转让，九成新，价格面议", "周末一起去爬山吧，天气很好", "本店新到一批水果，欢迎选购"]


def _rows(copies: int = 5) -> list[Row]:
    rows = []
    for k in range(copies):
        rows += [Row(f"{t}（{k}）", 1, "fundraising_ad", f"p{i % 4}") for i, t in enumerate(PROMOTIONS)]
        rows += [Row(f"{t}（{k}{j}）", 0, "news_or_court", f"n{k}") for j in range(3) for t in NEWS]
        rows += [Row(f"{t}（{k}{j}）", 0, "antifraud_publicity", f"a{k}") for j in range(3) for t in WARNINGS]
        rows += [Row(f"{t}（{k}）", 0, "ordinary", f"o{k}") for t in ORDINARY]
    rows += [Row(f"{t}（c{k}）", 0, "corpus:x", "c", corpus=True) for k in range(4) for t in LOOKALIKES]
    return rows


@pytest.fixture(scope="module")
def trained() -> tuple[Trainer, LinearModel]:
    trainer = Trainer(_rows(), Classifier(load_rule_pack(DEFAULT_RULES_DIR)), TrainParams(bits=12, inner_folds=3))
    return trainer, trainer.fit().model


def test_each_kind_with_enough_rows_is_a_class_the_rest_are_negatives():
    kinds = ["fundraising_ad"] * 3 + ["news"] * MIN_CLASS_ROWS + ["bank"] * (MIN_CLASS_ROWS - 1) + ["corpus:sms"] * 2
    labels = np.array([1] * 3 + [0] * (2 * MIN_CLASS_ROWS + 1))
    corpus = np.array([False] * (3 + 2 * MIN_CLASS_ROWS - 1) + [True] * 2)
    classes, cls = classes_of(kinds, labels, corpus)
    assert classes == ["promotion", "corpus", "negative", "news"]
    assert cls.tolist() == [0] * 3 + [3] * MIN_CLASS_ROWS + [2] * (MIN_CLASS_ROWS - 1) + [1] * 2


def test_a_model_trained_by_kind_has_a_contrast_per_kind(trained):
    _, model = trained
    assert model.contrasts == ("antifraud_publicity", "corpus", "news_or_court", "ordinary")
    assert model.text_weight.shape == (1 << 12, 4) and model.rule_weight.shape == (len(RULE_FEATURES), 4)
    for sign, w in zip(RULE_SIGNS, model.rule_weight, strict=True):
        assert (w * sign >= 0).all()  # the law's direction against every kind
    flag, watch = (model.rule_weight[RULE_FEATURES.index(f"rules.{label}")] for label in ("flag", "watch"))
    assert (flag >= watch).all()


def test_classifying_scores_an_ad_as_training_scored_it(trained, tmp_path):
    trainer, model = trained
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.contrasts == model.contrasts and loaded.meta["format"] == "adclear-linear-2"
    rules = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    idx = np.arange(0, len(trainer.rows), 7)
    expected = trainer.scores(loaded, idx)
    for i, score in zip(idx.tolist(), expected.tolist(), strict=True):
        out = rules.rules_outcome(trainer.rows[i].text, complete=True)
        got = loaded.score(out.whole, rules.rule_features(out)).score
        assert got == pytest.approx(score, abs=1e-4)
    assert expected[trainer.y[idx] == 1].min() > expected[trainer.y[idx] == 0].max()


def test_the_explanation_names_the_kind_an_ad_is_nearest_to(trained):
    _, model = trained
    rules = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    out = rules.rules_outcome(NEWS[1], complete=True)
    explained = model.explain(out.whole, rules.rule_features(out))
    assert explained["versus"] in model.contrasts
    read = shown(model_view(out.whole))
    assert explained["for"] or explained["against"]
    assert all(g in read for g, _ in explained["for"] + explained["against"])


def test_with_two_classes_the_score_is_the_logistic_function():
    rng = np.random.default_rng(3)
    text, rules = rng.normal(size=1 << 8).astype(np.float32), rng.normal(size=len(RULE_FEATURES))
    one = LinearModel(8, text, rules, 0.3, 0.5, 0.4)
    view = "年化收益百分之十二保本保息"
    rf = [0.5] * len(RULE_FEATURES)
    buckets = bucket_array(model_view(view), 8)
    z = 0.3 + float(text[buckets].astype(np.float64).sum()) / np.sqrt(len(buckets)) + float(np.dot(rules, rf))
    assert one.logit(view, rf) == pytest.approx(z, abs=1e-5)
    assert one.score(view, rf).score == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-4)


def test_an_artifact_of_the_first_format_still_loads(tmp_path):
    """A model promoted before adclear-linear-2 (one contrast, one-dimensional arrays) is read as it was."""
    rng = np.random.default_rng(5)
    index = np.array([3, 17, 200], dtype=np.uint32)
    weight = rng.normal(size=3).astype(np.float32)
    meta = {"format": "adclear-linear-1", "bits": 8, "intercept": -0.25, "thresholds": {"flag": 0.6, "watch": 0.3}}
    meta |= {k: v for k, v in load_model().meta.items() if k in ("features", "rule_features", "ngram_max")}
    buf = io.BytesIO()
    arrays = {"text_index": index, "text_weight": weight, "rule_weight": rng.normal(size=len(RULE_FEATURES))}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _savez_deterministic(buf, arrays)
    (tmp_path / "old.npz").write_bytes(buf.getvalue())
    old = load_model(tmp_path / "old.npz")
    assert old.contrasts == ("negative",) and old.intercept.tolist() == [-0.25]
    assert old.text_weight[[3, 17, 200], 0].tolist() == weight.tolist()
    arrays["text_weight"] = np.stack([weight, weight], axis=1)  # two columns in a file of one contrast
    buf = io.BytesIO()
    _savez_deterministic(buf, arrays)
    (tmp_path / "bad.npz").write_bytes(buf.getvalue())
    with pytest.raises(ModelError, match="wrong shape for a 8-bit model of 1 contrast"):
        load_model(tmp_path / "bad.npz")


def test_the_multinomial_fit_keeps_the_sign_of_a_constrained_column():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.random((60, 3)))
    cls = np.repeat([0, 1, 2], 20)
    # the third column is larger for class 1 than for the promotion (class 0): unconstrained, its weight against
    # class 1 would be negative; with sign +1 the promotion's weight is at least 0 and the others' at most 0
    X[20:40, 2] = X[20:40, 2] * 5
    weights, intercepts = fit_multinomial(X, cls, 3, np.ones(60), 10.0, 2, [1], 500)
    assert weights.shape == (3, 2) and intercepts.shape == (2,)
    assert (weights[2] >= 0).all()


def test_model_status_names_the_kinds_the_model_tells_a_promotion_from(tmp_path):
    from click.testing import CliRunner

    from adclear.cli import main

    r = CliRunner().invoke(main, ["--db", str(tmp_path / "a.db"), "model", "status"])
    assert r.exit_code == 0, r.output
    assert "tells a promotion from: anti-fraud publicity, bank and insurer text" in r.output
    r = CliRunner().invoke(main, ["--db", str(tmp_path / "a.db"), "model", "status", "--json"])
    assert json.loads(r.output)["contrasts"] == list(load_model().contrasts)


def test_the_verdict_lines_name_the_kind_in_chinese():
    from classifier.verdict import model_lines

    model = {"score": 0.9, "label": "flag", "flag_at": 0.7, "watch_at": 0.4, "version": "model.x"}
    lines = model_lines({**model, "explain": {"versus": "bank_ad", "for": [["年化", 0.5]], "against": []}})
    assert "模型认为此文最接近的一类（以下权重即与之相比）：银行、保险机构文本" in lines
    rejected = model_lines({**model, "explain": {"versus": "decision:rejected:新闻报道"}})
    assert any(line.endswith("：审核员驳回的广告（新闻报道）") for line in rejected)
    assert not any("最接近" in line for line in model_lines({**model, "explain": {"for": [["年化", 0.5]]}}))


def test_the_verdicts_lines_name_the_rules_findings_the_model_weighed():
    from classifier.verdict import model_lines

    model = {"version": "model.x", "score": 0.46, "label": "watch", "flag_at": 0.68, "watch_at": 0.36}
    (line,) = [
        x
        for x in model_lines({**model, "explain": {"rules": {"cue.ordinary": -1.33, "rules.exculpatory": -0.42}}})
        if "规则结果" in x
    ]
    assert line == "模型对规则结果的权重：普通商业或生活内容 -1.33、排除线索合计 -0.42"
