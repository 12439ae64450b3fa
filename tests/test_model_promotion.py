"""Learning from reviewers: decisions become training rows, and a model classifies only after it is promoted."""

from __future__ import annotations

import dataclasses

import numpy as np
from click.testing import CliRunner

from adclear.cli import main
from classifier import Classifier
from classifier.model import load_model
from core.classifiers import classifier_for
from core.db import immediate
from core.models import BUNDLED, active_model, candidate_path
from core.reclassify import reclassify
from core.verdicts import store_verdict
from review import ledger
from review.decisions import confirm, reject, reverse
from review.learning import decision_rows
from review.models import promote
from review.users import add_user

PROMO = "本平台保本保息，年化收益12%，五万起投"
NOTICE = "警惕保本高收益的骗局，远离非法集资，举报电话12345"
PLAIN = "二手电动车转让，九成新，价格面议"


def _ads(db, texts: list[str]) -> list[int]:
    clf = Classifier.default()
    ids = []
    with immediate(db):
        db.execute(
            "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) "
            "VALUES ('s', 'p', 'forum', '{}', 't')"
        )
        for i, text in enumerate(texts):
            cur = db.execute(
                "INSERT INTO ads (ad_key, url, site, platform, title, body, content_hash, first_seen, last_seen, "
                "last_fetched) VALUES (?, ?, 's', 'p', '', ?, ?, 't', 't', 't')",
                [f"k{i}", f"http://x/{i}", text, f"h{i}"],
            )
            store_verdict(db, cur.lastrowid, f"h{i}", clf.classify(text))
            ids.append(cur.lastrowid)
    return ids


def test_decisions_become_rows_and_reversed_ones_do_not(db):
    a, b, c, d = _ads(db, [PROMO, NOTICE, PROMO + "！", NOTICE + "。"])
    confirm(db, a, reviewer="r1", category="投资理财/P2P网贷", reason="保本承诺")
    reject(db, b, reviewer="r1", reason="防非宣传", note="")
    confirm(db, c, reviewer="r1", category="投资理财/P2P网贷", reason="保本承诺")
    reverse(db, c, reviewer="sup", reason="看错了")
    reject(db, d, reviewer="r1", reason="防非宣传", note="")
    reverse(db, d, reviewer="sup", reason="再看看")
    confirm(db, d, reviewer="r2", category="其他集资", reason="重新认定")
    rows, through = decision_rows(db)
    assert through == ledger.head(db).seq
    got = {r.id: (r.label, r.kind) for r in rows}
    assert got == {
        f"ad:{a}": (1, "decision:confirmed"),
        f"ad:{b}": (0, "decision:rejected:防非宣传"),
        f"ad:{d}": (1, "decision:confirmed"),  # its rejection was reversed, then it was confirmed
    }
    assert all(r.group == "site:s" and r.origin == "decisions" for r in rows)
    assert next(r for r in rows if r.id == f"ad:{a}").text == PROMO


def _candidate(db, shift: float) -> str:
    """The bundled model with its intercept moved: a candidate that flags (or clears) everything."""
    model = dataclasses.replace(load_model(), intercept=load_model().intercept + shift, meta={"trained_at": "t"})
    path = candidate_path(db, "x")
    data = model.to_bytes()
    from classifier.model import version_of

    version = version_of(data)
    path = candidate_path(db, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return version


def test_a_candidate_changes_verdicts_only_once_promoted(db):
    (plain,) = _ads(db, [PLAIN])
    assert active_model(db).version == BUNDLED
    before = classifier_for(db).classify(PLAIN)
    assert before.label == "clear"
    version = _candidate(db, +60.0)
    assert classifier_for(db).classify(PLAIN).model["version"] == load_model().version  # trained, not in use
    add_user(db, "管理员", "admin", "Tr0ub4dor&3-horse-battery")
    entry = promote(db, version, actor="管理员", note="试用")
    assert entry.action == "model_promoted" and entry.ad_id is None and entry.payload["version"] == version
    assert ledger.verify(db).ok
    after = classifier_for(db).classify(PLAIN)
    assert after.label == "flag" and after.model["version"] == version
    # the open queue is scored again only by reclassify
    assert db.execute("SELECT label FROM verdicts WHERE ad_id = ? ORDER BY id DESC", [plain]).fetchone()[0] == "clear"
    counts = reclassify(db, classifier_for(db))
    assert counts["flag"] == 1
    state = db.execute("SELECT state FROM queue WHERE ad_id = ?", [plain]).fetchone()
    assert state == ("pending",)
    # back to the bundled model: one more ledger entry
    promote(db, BUNDLED, actor="管理员")
    assert classifier_for(db).classify(PLAIN).model["version"] == load_model().version


def test_a_promoted_file_that_changed_leaves_the_rules_alone_and_says_why(db):
    version = _candidate(db, +60.0)
    add_user(db, "管理员", "admin", "Tr0ub4dor&3-horse-battery")
    promote(db, version, actor="管理员")
    path = candidate_path(db, version)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    clf = classifier_for(db)
    assert clf.model is None and "no longer matches its SHA-256" in clf.model_error
    v = clf.classify(PROMO)
    assert v.model["version"] is None and v.label == v.rules_label


def test_promote_needs_an_admin_and_a_known_candidate(db, db_path):
    runner = CliRunner()
    r = runner.invoke(main, ["--db", str(db_path), "model", "promote", "model.0123456789ab", "--as", "nobody"])
    assert r.exit_code == 1 and "'nobody' is no account" in r.output
    add_user(db, "管理员", "admin", "Tr0ub4dor&3-horse-battery")
    r = runner.invoke(main, ["--db", str(db_path), "model", "promote", "model.0123456789ab", "--as", "管理员"])
    assert r.exit_code == 1 and "no candidate model model.0123456789ab" in r.output
    version = _candidate(db, 0.0)
    r = runner.invoke(main, ["--db", str(db_path), "model", "promote", version, "--as", "管理员", "--note", "n"])
    assert r.exit_code == 0, r.output
    assert f"{version} is in use from ledger entry" in r.output
    r = runner.invoke(main, ["--db", str(db_path), "model", "status"])
    assert r.exit_code == 0 and f"in use: {version}" in r.output
    assert np.allclose(load_model(candidate_path(db, version)).intercept, load_model().intercept)


def test_train_with_decisions_alone_warns_and_needs_both_labels(db, db_path):
    (a,) = _ads(db, [PROMO])
    confirm(db, a, reviewer="r1", category="投资理财/P2P网贷", reason="保本承诺")
    runner = CliRunner()
    r = runner.invoke(main, ["--db", str(db_path), "model", "train", "--cv", "0"])
    assert r.exit_code == 1 and "give --data FILE" in r.output
    r = runner.invoke(main, ["--db", str(db_path), "model", "train", "--with-decisions", "--cv", "0"])
    assert r.exit_code == 1, r.output
    assert "cannot train on these rows: the rows need both labels" in r.output
    assert "trained on the decisions alone" in r.output


def test_a_candidate_from_decisions_is_kept_beside_the_database_and_not_used(db, db_path, tmp_path):
    ids = _ads(db, [PROMO, NOTICE, PROMO + "。", NOTICE + "！"])
    with immediate(db):  # two sites, so that the thresholds can be fitted out of fold
        db.execute(
            "INSERT OR IGNORE INTO sites (name, platform, kind, config, updated_at) "
            "VALUES ('t', 'p', 'forum', '{}', 't')"
        )
        db.execute("UPDATE ads SET site = 't' WHERE id IN (?, ?)", [ids[2], ids[3]])
    confirm(db, ids[0], reviewer="r1", category="投资理财/P2P网贷", reason="保本承诺")
    confirm(db, ids[2], reviewer="r1", category="投资理财/P2P网贷", reason="保本承诺")
    reject(db, ids[1], reviewer="r1", reason="防非宣传", note="")
    reject(db, ids[3], reviewer="r1", reason="防非宣传", note="")
    r = CliRunner().invoke(main, ["--db", str(db_path), "model", "train", "--with-decisions", "--cv", "0"])
    assert r.exit_code == 0, r.output
    assert "4 reviewed ads from the ledger" in r.output
    candidates = sorted((db_path.parent / "models").glob("model.*.npz"))
    assert len(candidates) == 1
    version = candidates[0].stem
    assert f"adclear model promote {version}" in r.output
    assert load_model(candidates[0]).meta["decisions_through"] == ledger.head(db).seq
    assert active_model(db).version == BUNDLED  # nothing changed until promoted
