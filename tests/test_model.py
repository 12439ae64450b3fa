"""The learned scorer: its artifact, its features, training, promotion and the fallback to rules alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from adclear.cli import main
from classifier import Classifier, classify
from classifier.features import RULE_FEATURES, RULE_SIGNS, bucket_array, model_view, ngrams, shown
from classifier.model import DEFAULT_MODEL_PATH, ModelError, load_model, version_of
from classifier.rules import DEFAULT_RULES_DIR, load_rule_pack
from classifier.training import Row, Trainer, TrainParams, choose_thresholds, group_of, read_labelled, read_negatives

PROMOTIONS = [
    "本平台保本保息，年化收益12%，五万起投，名额有限",
    "原始股即将上市，内部认购，翻几十倍",
    "认养一头牛，每年固定分红，到期回购",
    "推荐一人投资可获10%返利，发展下线拿提成",
    "消费全返，购物等于存钱，每天返利",
    "养老公寓投资，年回报15%，免费旅游",
    "矿机每日分红，静态收益1%，动态收益另算",
    "虚拟货币新币上线，稳赚不赔，空投福利",
]
LOOKALIKES = [
    "警惕保本高收益的骗局，远离非法集资，举报电话12345",
    "法院以非法吸收公众存款罪判处被告人有期徒刑五年",
    "理财非存款，产品有风险，投资须谨慎。本产品业绩比较基准3.2%",
    "二手电动车转让，九成新，价格面议",
    "招聘销售代表，底薪加提成，五险一金",
    "周末一起去爬山吧，天气很好",
    "房屋出租，两室一厅，月租2500元",
    "本店新到一批水果，欢迎选购",
]


def _rows(n_copies: int = 3) -> list[Row]:
    rows = []
    for k in range(n_copies):
        for i, t in enumerate(PROMOTIONS):
            rows.append(Row(text=f"{t}（{k}）", label=1, kind="fundraising_ad", group=f"p{i % 4}"))
        for i, t in enumerate(LOOKALIKES):
            rows.append(Row(text=f"{t}（{k}）", label=0, kind="other", group=f"n{i % 4}"))
    return rows


# --- the bundled artifact --------------------------------------------------------------------------------------
def test_the_bundled_model_loads_without_the_training_data():
    model = load_model()
    assert model.path == DEFAULT_MODEL_PATH
    assert model.version == version_of(DEFAULT_MODEL_PATH.read_bytes())
    assert 0 < model.watch <= model.flag < 1
    assert model.meta["format"] == "adclear-linear-2" and model.meta["trained_at"]
    assert len(model.contrasts) > 1  # trained over the kinds of look-alike (classifier.multinomial)
    # small enough to commit and to offer to crawler nodes: 20,000 buckets × a float32 per contrast, compressed
    assert DEFAULT_MODEL_PATH.stat().st_size < 600_000
    v = classify("保本保息，年化15%，加微信详谈")
    assert v.model["version"] == model.version and v.version.endswith("+" + model.version)


def test_the_artifact_holds_no_pickle_and_no_text():
    with zipfile.ZipFile(DEFAULT_MODEL_PATH) as zf:
        names = sorted(zf.namelist())
        assert names == ["meta.npy", "rule_weight.npy", "text_index.npy", "text_weight.npy"]
        for name in names:
            header = zf.read(name)[:128]
            assert b"'descr': '|O'" not in header and b"object" not in header  # no Python objects
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
    assert set(meta["thresholds"]) == {"flag", "watch"}
    assert meta["rule_features"] == list(RULE_FEATURES)


def test_the_rule_weights_keep_the_sign_the_law_gives_them():
    model = load_model()
    for name, sign, w in zip(RULE_FEATURES, RULE_SIGNS, model.rule_weight, strict=True):
        assert (w * sign >= 0).all(), f"{name} has weights {w} against its sign {sign}"  # in every contrast
    flag, watch = (model.rule_weight[RULE_FEATURES.index(f"rules.{label}")] for label in ("flag", "watch"))
    assert (flag >= watch).all()  # the rules saying flag never count for less than their saying watch


# --- damaged or missing files ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.unlink(), "no model file there"),
        (lambda p: p.write_bytes(b""), "damaged or not a model file"),
        (lambda p: p.write_bytes(p.read_bytes()[:500]), "damaged or not a model file"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8), "damaged or not a model file"),
    ],
)
def test_a_damaged_model_gives_a_clear_error_and_the_rules_classify_alone(tmp_path, damage, message):
    path = tmp_path / "m.npz"
    path.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    damage(path)
    with pytest.raises(ModelError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value)
    clf = Classifier.from_directory(DEFAULT_RULES_DIR, model=path)
    assert clf.model is None and message in clf.model_error
    v = clf.classify("保本保息，年化15%，五万起投，加微信详谈")
    assert v.label == v.rules_label == "flag"
    assert v.model == {"version": None, "error": clf.model_error}
    assert v.version.endswith("+model.none")
    assert any(line.startswith("模型未能加载") for line in v.explain())


def _resave(tmp_path: Path, change) -> Path:
    model = load_model()
    arrays = {}
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        for k in z.files:
            arrays[k] = z[k]
    meta = json.loads(arrays["meta"].tobytes())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = tmp_path / "changed.npz"
    np.savez(path, **arrays)
    assert model  # the original still loads
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, m: m.update(format="other-9"), "model format 'other-9'"),
        (lambda a, m: m.update(rule_features=["x"]), "made for other features"),
        (lambda a, m: m.update(features="adclear-features-1"), r"made for other features \(adclear-features-1\)"),
        (lambda a, m: m.update(thresholds={"flag": 0.2, "watch": 0.9}), "are not 0 < watch <= flag <= 1"),
        (lambda a, m: a.update(text_weight=np.full_like(a["text_weight"], np.nan)), "not finite"),
        (lambda a, m: a.update(text_index=a["text_index"] + (1 << 20)), "outside the model's"),
        (lambda a, m: a.pop("rule_weight"), "not an adclear model \\(no rule_weight array\\)"),
    ],
)
def test_a_model_that_does_not_fit_this_adclear_is_refused(tmp_path, change, message):
    with pytest.raises(ModelError, match=message):
        load_model(_resave(tmp_path, change))


# --- features ---------------------------------------------------------------------------------------------------
def test_the_hash_of_an_ngram_never_changes():
    """The bundled model's weights are indexed by these buckets: a changed hash would silently unmake it."""
    assert bucket_array("年化", 16).tolist() == [33689, 2303, 57936]
    assert len(bucket_array("a" * 10, 16)) == 10 + 9 + 8 + 7


def test_ngrams_line_up_with_their_buckets():
    view = model_view("保本保息,年化12%")
    assert view == "保本保息年化12%" and shown(view) == "保本保息年化00%"
    assert bucket_array(view, 16).tolist() == bucket_array(shown(view), 16).tolist()  # digits are read as 0
    grams = ngrams(view)
    buckets = bucket_array(view, 16)
    assert len(grams) == len(buckets)
    assert dict(zip(grams, buckets.tolist(), strict=True))["年化"] == 57936


def test_contacts_and_layout_are_not_read_by_the_model():
    assert model_view("保本,加微信abc12345,电话13800138000,www.x.com/a") == "保本"
    assert model_view("年化 12.5%！\n每月付息。") == "年化125%每月付息"


def test_a_contact_can_only_raise_what_the_rules_add_to_the_score():
    """The model reads the rules' findings with the signs the law gives them: a contact channel (公开性)
    adds to a flag or nothing, never takes away (unconstrained, the model learned the opposite from
    quoted pitches that carry no contact)."""
    clf = Classifier.default()

    def rules_part(text: str) -> np.ndarray:
        """What the rules' findings add to each contrast (the log-odds against each kind of text)."""
        out = clf.rules_outcome(text, complete=True)
        return np.asarray(clf.rule_features(out)) @ clf.model.rule_weight

    for text in PROMOTIONS + LOOKALIKES:
        assert (rules_part(text + "，加微信 abc12345") >= rules_part(text) - 1e-9).all(), text
        plain, contact = (
            clf.rules_outcome(text, complete=True),
            clf.rules_outcome(text + "，加微信 abc12345", complete=True),
        )
        assert (
            clf.model.logit(plain.whole, clf.rule_features(contact))
            >= clf.model.logit(plain.whole, clf.rule_features(plain)) - 1e-9
        )  # the score too: it rises with every contrast's margin
        assert model_view(clf.rules_outcome(text + "，加微信 abc12345").whole) == model_view(
            clf.rules_outcome(text).whole
        )


def test_the_explanation_names_ngrams_of_the_ad():
    v = classify("本平台保本保息，年化收益12%，五万起投")
    explain = v.model["explain"]
    view = shown(model_view("本平台保本保息,年化收益12%,5万起投"))
    for gram, weight in explain["for"]:
        assert gram in view and weight > 0
    for gram, weight in explain["against"]:
        assert gram in view and weight < 0
    assert any("模型加权最高的字串" in line for line in v.explain())


# --- training ---------------------------------------------------------------------------------------------------
def test_training_is_deterministic_with_a_seed():
    clf = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    params = TrainParams(bits=12, max_weights=500, inner_folds=3, seed=5)
    a = Trainer(_rows(), clf, params).fit().model
    b = Trainer(_rows(), clf, params).fit().model
    assert np.array_equal(a.text_weight, b.text_weight) and np.array_equal(a.rule_weight, b.rule_weight)
    assert np.array_equal(a.intercept, b.intercept) and (a.flag, a.watch) == (b.flag, b.watch)
    assert a.to_bytes() == b.to_bytes()
    assert np.count_nonzero(a.text_weight.any(axis=1)) <= 500  # buckets with a weight


def test_a_trained_model_separates_what_it_was_shown_and_saves_and_loads(tmp_path):
    clf = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    model = Trainer(_rows(), clf, TrainParams(bits=12, inner_folds=3)).fit().model
    version = model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.version == version
    mine = Classifier(clf.pack, loaded)
    assert mine.classify(PROMOTIONS[0]).model["score"] > mine.classify(LOOKALIKES[5]).model["score"]


def test_labelled_look_alikes_weigh_more_than_corpus_rows_and_the_classes_balance():
    rows = _rows(1) + [Row(text="今天天气不错", label=0, kind="corpus:x", group="c", corpus=True)] * 10
    clf = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    trainer = Trainer(rows, clf, TrainParams(bits=12, lookalike_weight=3.0, corpus_weight=0.1))
    w = trainer._weights(np.arange(len(rows)))
    assert set(w[(trainer.y == 0) & ~trainer.corpus].tolist()) == {3.0}
    assert np.allclose(w[trainer.corpus], 0.1)
    assert np.isclose(w[trainer.y == 1].sum(), w[trainer.y == 0].sum())  # 8 × 3 + 10 × 0.1 shared by 8 promotions


def test_cross_validation_keeps_each_group_on_one_side():
    clf = Classifier(load_rule_pack(DEFAULT_RULES_DIR))
    trainer = Trainer(_rows(), clf, TrainParams(bits=12, inner_folds=2))
    for tr, te in trainer.folds(np.arange(len(trainer.rows)), 4, 1):
        assert not set(trainer.groups[tr]) & set(trainer.groups[te])


def test_thresholds_come_from_the_scores_they_are_given():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.1, 0.05])
    corpus = np.array([False, False, False, False, False, True, True, True])
    # F1 at 0.9: 0.5; at 0.8: 0.8; at 0.3: 0.857 (all three found, the look-alike at 0.7 wrongly)
    assert choose_thresholds(scores, y, corpus) == (0.3, 0.3)
    # a corpus row at 0.35 rules 0.3 out: it would flag a third of the ordinary text
    scores[5] = 0.35
    flag, watch = choose_thresholds(scores, y, corpus)
    assert flag == 0.8 and 0.35 < watch < 0.36  # watch is raised until at most 2% of the corpus is queued


def test_the_flag_threshold_maximises_f1_averaged_with_its_neighbours(monkeypatch):
    import classifier.training as training

    # 16 rows from 0.80 down to 0.05: P a promotion, n a look-alike. F1 is highest at 0.25 (0.700) and falls
    # fast above it (0.632, 0.588, 0.5); at 0.10 it is 0.696, and averaged with up to three candidates each
    # side 0.10 comes first (0.654 against 0.623)
    order = "nPnPnPnPPnPPnnPn"
    scores = np.round(np.linspace(0.80, 0.05, len(order)), 2)
    y = np.array([1 if c == "P" else 0 for c in order])
    corpus = np.zeros(len(order), dtype=bool)
    assert choose_thresholds(scores, y, corpus)[0] == 0.1
    monkeypatch.setattr(training, "F1_SMOOTHING", 0)  # the maximum of F1 itself
    assert choose_thresholds(scores, y, corpus)[0] == 0.25


@pytest.mark.parametrize(
    ("source", "group"),
    [
        ("https://www.example.com/a/b?x=1", "example.com"),
        ("http://news.example.com/1", "news.example.com"),
        ("https://github.com/Owner/Repo/issues/4", "github.com/owner/repo"),
        ("owner/repo:path/file.php", "owner/repo"),
        ("", "(no source)"),
    ],
)
def test_groups_follow_the_source(source, group):
    assert group_of(source) == group


def test_reading_data_names_the_bad_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b"}\n', encoding="utf-8")
    from classifier.training import DataError

    with pytest.raises(DataError, match=r"rows.jsonl line 2: a row needs 'text' and 'label'"):
        read_labelled(path)
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("content,label\n你好,0\n在吗,1\n", encoding="utf-8")
    rows = read_negatives(csv_path)
    assert [(r.text, r.label, r.corpus) for r in rows] == [("你好", 0, True), ("在吗", 0, True)]


def test_train_command_is_reproducible_with_source_date_epoch(tmp_path, monkeypatch):
    data = tmp_path / "rows.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": r.text, "label": r.label, "source": r.group}, ensure_ascii=False) + "\n"
            for r in _rows()
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    runner = CliRunner()
    outs = []
    for n in range(2):
        out = tmp_path / f"m{n}.npz"
        r = runner.invoke(main, ["model", "train", "--data", str(data), "--cv", "0", "--out", str(out)])
        assert r.exit_code == 0, r.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert load_model(tmp_path / "m0.npz").meta["trained_at"] == "2026-01-01T00:00:00+00:00"


def test_eval_cv_prints_three_tables_and_writes_predictions(tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": r.text, "label": r.label, "kind": r.kind, "source": r.group}, ensure_ascii=False) + "\n"
            for r in _rows()
        ),
        encoding="utf-8",
    )
    out = tmp_path / "pred.jsonl"
    r = CliRunner().invoke(main, ["eval", str(data), "--cv", "3", "--predictions", str(out)])
    assert r.exit_code == 0, r.output
    assert "grouped 3-fold cross-validation by source" in r.output
    for title in ("rules only", "model only", "combined"):
        assert title in r.output
    assert "precision (95% CI)" in r.output and "without borderline" in r.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(_rows())
    assert {"rules", "model", "combined", "score", "label", "group"} <= set(lines[0])
    assert all(x["combined"] in ("flag", "watch", "clear") for x in lines)
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "missing.jsonl"), "--cv", "3"])
    assert r.exit_code == 2 and "does not exist" in r.output
