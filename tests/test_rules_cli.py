"""adclear rules lint|test|stats, eval and reclassify."""

from __future__ import annotations

import json

from click.testing import CliRunner

from adclear.cli import main
from core.db import immediate
from review.decisions import confirm, reject


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_lint_and_test_pass_on_the_bundled_rules():
    r = cli("rules", "lint")
    assert r.exit_code == 0 and r.output.strip().endswith("loads; 0 warning(s)")
    r = cli("rules", "test")
    assert r.exit_code == 0 and r.output.strip().endswith("examples: all pass")


def test_lint_names_the_broken_rule(tmp_path):
    (tmp_path / "x.yml").write_text(
        "rules:\n  - id: x.bad\n    category: 养老投资\n    weight: 1\n    legal_basis: spc.2.10\n    patterns: ['(']\n"
        "    tests: {match: ['养老'], no_match: ['x']}\n",
        encoding="utf-8",
    )
    r = cli("rules", "lint", "--rules", tmp_path)
    assert r.exit_code == 1
    assert "x.yml: rule x.bad: pattern 1 is not a valid regex" in r.output


def test_a_failing_example_fails_rules_test(tmp_path):
    (tmp_path / "x.yml").write_text(
        "rules:\n  - id: x.elderly\n    category: 养老投资\n    weight: 1\n    legal_basis: spc.2.10\n"
        "    patterns: ['养老公寓']\n    tests: {match: ['以房养老'], no_match: ['养老公寓出租']}\n",
        encoding="utf-8",
    )
    r = cli("rules", "test", "--rules", tmp_path)
    assert r.exit_code == 1
    assert "rule x.elderly: expected a match on '以房养老'" in r.output
    assert "rule x.elderly: expected no match on '养老公寓出租', matched ['养老公寓']" in r.output
    assert r.output.strip().endswith("Error: 2 of 2 rule examples failed")


def test_eval_reports_precision_recall_and_kinds(tmp_path):
    rows = [
        {"id": "a", "text": "保本保息，年化15%，加微信 abc123 详谈，名额有限", "label": 1, "kind": "ad"},
        {"id": "b", "text": "警惕“保本高收益”陷阱，远离非法集资，举报电话 12345", "label": 0, "kind": "antifraud"},
        {"id": "c", "text": "出租两室一厅，月租1500元", "label": 0, "kind": "ordinary"},
    ]
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    r = cli("eval", path, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["overall"]["tp"] == 1 and report["overall"]["fp"] == 0 and report["overall"]["fn"] == 0


def test_stats_and_reclassify_on_decided_ads(db, db_path):
    from classifier import Classifier
    from tests.test_queue import add_ads

    clf = Classifier.default()
    texts = ["保本保息，年化15%，加微信 abc123，名额有限"] * 6 + ["警惕“保本保息”骗局，举报电话 12345"] * 2
    verdicts = [clf.classify(t) for t in texts]
    ids = add_ads(db, verdicts)
    with immediate(db):
        db.execute("UPDATE ads SET body = ? WHERE id = ?", [texts[0], ids[0]])
    for ad_id in ids[:5]:
        confirm(db, ad_id, reviewer="a", category="投资理财/P2P网贷", reason="x")
    reject(db, ids[5], reviewer="a", reason="其他", note="test")
    r = cli("--db", db_path, "rules", "stats", "--min-support", "5")
    assert r.exit_code == 0, r.output
    line = next(row for row in r.output.splitlines() if row.startswith("guarantee.principal"))
    assert line.split()[2:7] == ["active", "2", "5", "1", "0.83"]
    r = cli("--db", db_path, "reclassify", "--all")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("8 ads classified again: ")


def test_a_shadow_rule_scores_nothing_but_its_hits_are_counted(db, db_path, tmp_path):
    """A rule on trial: stored with the verdict, counted against decisions by `rules stats`, scoring 0."""
    import shutil

    from classifier import Classifier
    from classifier.rules import DEFAULT_RULES_DIR
    from tests.test_queue import add_ads

    pack = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, pack)
    (pack / "zz_trial.yml").write_text(
        """rules:
  - id: trial.golden_goose
    signal: promised_return
    weight: 3
    status: shadow
    legal_basis: ad.25
    patterns: ['金鹅计划']
    tests:
      match: ['加入金鹅计划']
      no_match: ['鹅肝']
""",
        encoding="utf-8",
    )
    clf = Classifier.from_directory(pack)
    text = "保本保息，年化15%，加入金鹅计划，名额有限"
    with_trial = clf.classify(text)
    trial = [h for h in with_trial.hits if h.rule_id == "trial.golden_goose"]
    assert trial and trial[0].status == "shadow" and trial[0].weight == 0
    without = Classifier.default().classify(text)
    assert with_trial.score == without.score and with_trial.model["score"] == without.model["score"]
    ids = add_ads(db, [with_trial, with_trial])
    confirm(db, ids[0], reviewer="a", category="投资理财/P2P网贷", reason="x")
    reject(db, ids[1], reviewer="a", reason="其他", note="test")
    r = cli("--db", db_path, "rules", "stats", "--rules", pack, "--min-support", "1")
    assert r.exit_code == 0, r.output
    line = next(row for row in r.output.splitlines() if row.startswith("trial.golden_goose"))
    assert line.split()[1:6] == ["signal", "shadow", "3", "1", "1"]
