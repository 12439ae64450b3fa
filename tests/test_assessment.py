"""A verdict in two halves (classifier/assessment.py): what a crawler node assesses from the text alone, carried as
JSON through the stream, and concluded by the writer with the decided ads, is the verdict ``classify`` gives."""

from __future__ import annotations

import json
import zlib

import pytest
import yaml

from classifier import Assessment, Classifier
from classifier.neardup import DecidedAds
from classifier.normalize import normalize
from core.classifiers import load_classifier
from tests.conftest import REPO

PROMOTION = "月息3分，保本保息，稳赚不赔，名额有限，速加微信 lc8888 认购"
COPY = "月息3分，保本保息，稳赚不赔，名额有限，速加微信 lc9999 认购"
LOOKALIKE = "本行理财产品不保本，过往业绩不代表未来表现，理财非存款，产品有风险，投资须谨慎"


def demo_texts() -> list[tuple[str, str]]:
    """The demo sites' ads (title, body): promotions, look-alikes and ordinary posts, as the crawl reads them."""
    texts = []
    for path in sorted((REPO / "demo").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for row in data if isinstance(data, list) else []:
            if isinstance(row, dict) and isinstance(row.get("body"), str):
                texts.append((str(row.get("title", "")), row["body"]))
    return texts


def decided() -> DecidedAds:
    source = DecidedAds()
    source.confirm(1, normalize(PROMOTION).text)
    source.reject(2, normalize(LOOKALIKE).text)
    return source


def carried(assessed: Assessment) -> Assessment:
    """Through the stream: packed (compressed JSON) on the node, unpacked on the writer."""
    return Assessment.unpack(assessed.pack())


@pytest.mark.parametrize("with_model", [True, False], ids=["model", "rules-only"])
def test_an_assessment_carried_as_json_concludes_to_the_verdict_classify_gives(with_model: bool):
    classifier = load_classifier(None) if with_model else load_classifier(None, False)
    texts = [("", PROMOTION), ("", COPY), ("理财", LOOKALIKE), ("", ""), *demo_texts()]
    assert len(texts) > 20
    flagged = 0
    for title, text in texts:
        for neighbours in (None, decided()):
            want = classifier.classify(text, title=title, neighbours=neighbours)
            for fingerprint in (False, True):  # a node sends the fingerprint it made: the same verdict
                got = classifier.conclude(carried(classifier.assess(text, title, for_writer=fingerprint)), neighbours)
                assert got.to_dict() == want.to_dict(), (title, text, fingerprint)
                assert got.fingerprint == want.fingerprint
                assert got.explain() == want.explain()
            flagged += want.label == "flag"
    assert flagged  # the texts exercise hits, model explanations and the neighbours' effects, not only "clear"


def test_a_near_copy_of_a_confirmed_ad_is_flagged_by_the_conclusion_not_the_assessment():
    classifier = load_classifier(None)
    assessed = carried(classifier.assess(COPY))
    verdict = classifier.conclude(assessed, decided())
    assert verdict.label == "flag" and [n.ad_id for n in verdict.nearest][:1] == [1]
    assert classifier.conclude(assessed, None).nearest == []


def test_only_the_classifier_that_assessed_concludes():
    bundled, rules_only = load_classifier(None), load_classifier(None, False)
    assert bundled.version != rules_only.version
    with pytest.raises(ValueError, match="assessment of classifier"):
        rules_only.conclude(bundled.assess(PROMOTION))


def good() -> dict:
    return Classifier.default().assess(PROMOTION, for_writer=True).to_dict()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.pop("whole"),
        lambda d: d.update(score="12"),
        lambda d: d.update(requirement=1),
        lambda d: d.update(exculpatory=True),
        lambda d: d.update(label="ban"),
        lambda d: d.update(totals={"inducement": "3"}),
        lambda d: d.update(categories=[3]),
        lambda d: d.update(model=[]),
        lambda d: d["hits"][0].pop("rule_id"),
        lambda d: d["hits"][0].update(start="0"),
        lambda d: d["hits"][0].update(extra=1),
        lambda d: d.update(hits={}),
        lambda d: d["fingerprint"].pop("exact"),
        lambda d: d["fingerprint"].update(simhash="x"),
        lambda d: d["fingerprint"].update(minhash="00"),
        lambda d: d["fingerprint"].update(exact=str(2**64)),
        lambda d: d["fingerprint"].update(minhash=None),
        lambda d: d.update(contacts={}),
        lambda d: d.update(contacts=[["mobile", "13800001234", "138 0000 1234", 0]]),
        lambda d: d.update(contacts=[["mobile", "13800001234", "138 0000 1234", 0, "13"]]),
    ],
    ids=lambda f: "",
)
def test_an_assessment_that_is_not_as_written_is_refused_with_its_field(spoil):
    data = good()
    Assessment.from_dict(data)  # as written: read back
    spoil(data)
    with pytest.raises(ValueError, match="assessment"):
        Assessment.from_dict(data)
    with pytest.raises(ValueError, match="JSON object"):
        Assessment.from_dict([data])


def test_packed_bytes_that_are_not_an_assessment_are_refused():
    packed = Classifier.default().assess(PROMOTION).pack()
    assert len(packed) < len(json.dumps(Classifier.default().assess(PROMOTION).to_dict()).encode()) / 2
    for spoiled in (b"", b"{}", packed[:-5], zlib.compress(b"[1, 2]"), zlib.compress(b"\xff\xfe")):
        with pytest.raises(ValueError):
            Assessment.unpack(spoiled)


def test_a_fingerprint_of_another_version_is_left_for_the_conclusion_to_make():
    data = good()
    assert Assessment.from_dict(data).fingerprints is not None
    data["fingerprint"]["fp_version"] = -1
    assert Assessment.from_dict(data).fingerprints is None  # made again where the ad is concluded
    assert "fingerprint" not in Classifier.default().assess(PROMOTION).to_dict()  # not made unless asked
