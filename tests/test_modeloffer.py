"""The writer offers the nodes the model its ledger names, and notices a promotion while it runs (crawler.modeloffer).

Before, the nodes always assessed with the bundled model: after ``adclear model promote`` the writer classified
every new ad itself (correct, twice as slow), and a writer that ran for days kept the model it started with.
"""

from __future__ import annotations

import hashlib
import logging

import redis

from classifier.model import load_model
from core.classifiers import load_classifier
from core.db import connect
from core.models import BUNDLED, candidate_path
from crawler.modeloffer import MODEL_KEY, NO_MODEL, OfferedModel
from review.models import promote
from review.users import add_user
from tests.test_ingest import TEXT, assessed_ad, client, one_ad, seeds, send, stored_verdicts, writer
from tests.test_model_promotion import _candidate

__all__ = ["client", "seeds"]  # test_ingest's fixtures, which the tests here ask for too


def promoted(db_path, shift: float = 60.0) -> str:
    """A candidate (the bundled model, its intercept moved: it flags everything) put into use by an admin."""
    db = connect(db_path)
    try:
        version = _candidate(db, shift)
        if db.execute("SELECT count(*) FROM users WHERE name = '管理员'").fetchone()[0] == 0:
            add_user(db, "管理员", "admin", "Tr0ub4dor&3-horse-battery")
        promote(db, version, actor="管理员")
        return version
    finally:
        db.close()


def test_the_writer_offers_its_promoted_model_and_a_node_assesses_with_it(client, db_path, seeds):
    version = promoted(db_path)
    w = writer(client, db_path, seeds)
    w.settle()
    offered = client.hgetall(MODEL_KEY)
    assert offered[b"version"] == version.encode()
    assert offered[b"data"] == candidate_path(connect(db_path), version).read_bytes()

    node = OfferedModel(client, None)  # a node's view of the same Redis
    assert node.current().version == w.classification.classifier(w.store).version  # the writer's, exactly
    assert node.version == version
    send(client, *assessed_ad(1, node.current().assess(TEXT, "理财1", for_writer=True).to_dict()))
    w.run(until_idle=0.3)
    assert (w.classification.concluded, w.classification.classified) == (1, 0)  # concluded, not classified again
    w.close()
    (verdict,) = stored_verdicts(db_path)
    assert verdict[0] == "flag" and version in verdict[-1]


def test_a_running_writer_notices_a_promotion_and_offers_it(client, db_path, seeds, monkeypatch, caplog):
    import crawler.pipelines

    monkeypatch.setattr(crawler.pipelines, "MODEL_RECHECK_SECONDS", 0.0)
    w = writer(client, db_path, seeds)
    w.settle()
    assert client.hget(MODEL_KEY, "version") == BUNDLED.encode()
    bundled = w.classification.classifier(w.store).version
    send(client, *one_ad(1))
    w.run(until_idle=0.3)

    caplog.set_level(logging.INFO, logger="crawler.pipelines")
    version = promoted(db_path)
    send(client, *one_ad(2))
    w.run(until_idle=0.3)
    w.close()
    assert client.hget(MODEL_KEY, "version") == version.encode()
    assert [v[-1] for v in stored_verdicts(db_path)] == [bundled, bundled.replace(load_model().version, version)]
    assert any(f"the model in use is now {version}" in r.getMessage() for r in caplog.records)


def test_a_node_follows_the_offer_and_refuses_a_model_that_does_not_match(client, db_path, caplog):
    node = OfferedModel(client, None, recheck=0.0)
    bundled = load_classifier(None)
    assert node.current() is bundled and node.version == BUNDLED  # nothing offered: the bundled model

    version = promoted(db_path)
    data = candidate_path(connect(db_path), version).read_bytes()
    client.hset(MODEL_KEY, mapping={"version": version, "sha256": "0" * 64, "data": data})
    assert node.current().model is None and node.version == version  # refused: the rules alone, said why
    assert any("does not match its SHA-256" in r.getMessage() for r in caplog.records)

    client.hset(MODEL_KEY, mapping={"sha256": hashlib.sha256(data).hexdigest()})
    node.version = ""  # as if it had not read this version yet
    assert version in node.current().version

    client.hset(MODEL_KEY, mapping={"version": NO_MODEL, "sha256": "", "data": b""})
    assert node.current().model is None and node.version == NO_MODEL
    client.hset(MODEL_KEY, mapping={"version": BUNDLED})
    assert node.current() is bundled


def test_a_node_keeps_its_model_while_redis_cannot_be_read(client, caplog):
    node = OfferedModel(client, None, recheck=0.0)
    before = node.current()
    broken = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens on port 1
    node.client = broken
    assert node.current() is before
    assert any("could not read the writer's model" in r.getMessage() for r in caplog.records)


def test_a_promoted_file_that_changed_is_offered_as_no_model(client, db_path, seeds):
    version = promoted(db_path)
    path = candidate_path(connect(db_path), version)
    path.write_bytes(path.read_bytes()[:-10])  # damaged after its promotion
    w = writer(client, db_path, seeds)
    w.settle()
    assert w.classification.classifier(w.store).model is None  # the writer: the rules alone, as every verdict says
    w.close()
    assert client.hgetall(MODEL_KEY) == {b"version": NO_MODEL.encode(), b"sha256": b"", b"data": b""}
