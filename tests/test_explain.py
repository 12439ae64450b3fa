"""The ad page's explanation: hits grouped by the four legal conditions, each cue once, a sum a person can follow."""

from __future__ import annotations

from review.web.explain import explain, lines_for, renumber, score_terms
from review.web.highlight import numbered_hits, segments


def hit(kind, name, matched, weight, start, status="active", basis="《广告法》第二十五条"):
    span = {"start": start, "end": start + len(matched), "field": "text"}
    return {"kind": kind, "name": name, "matched": matched, "weight": weight, "status": status, **span} | {
        "legal_basis": basis,
        "rule_id": "r",
    }


TEXT = "年化13%保本保息，加微信详询，养老公寓认购"
HITS = numbered_hits(
    [
        hit("signal", "promised_return", "年化13%", 2.0, 0),
        hit("signal", "promised_return", "年化", 0.5, 0),  # a second rule on the same words
        hit("signal", "guarantee", "保本保息", 2.0, 5),
        hit("signal", "contact_channel", "加微信", 0.5, 10),
        hit("category", "养老投资", "养老公寓", 1.5, 16),
        hit("signal", "scam_denial", "保本", 1.0, 5, status="shadow"),  # on trial: scores nothing
    ]
)


def test_each_cue_is_one_line_with_all_its_words_under_its_condition():
    groups = explain(HITS)
    assert [g.key for g in groups] == ["非法性", "公开性", "利诱性", "社会性", "类型"]  # the law's order; empty kept
    by_key = {g.key: g for g in groups}
    assert by_key["非法性"].lines == [] and by_key["社会性"].lines == []
    lure = by_key["利诱性"].lines
    assert [(line.name, line.words, line.weight) for line in lure] == [
        ("promised_return", ["年化13%", "年化"], 2.5),
        ("guarantee", ["保本保息"], 2.0),
        ("scam_denial", ["保本"], 0.0),
    ]
    assert lure[0].hits == [1, 2] and lure[2].testing and not lure[0].testing
    assert lure[0].bases == ["《广告法》第二十五条"]  # once, not once per hit
    assert [line.number for g in groups for line in g.lines] == [1, 2, 3, 4, 5]


def test_the_score_is_a_short_sum_that_reaches_the_stored_score():
    groups = explain(HITS)
    terms = score_terms(groups, 7.0)  # the scorer added 0.5 beyond the hits (a near-duplicate, say)
    assert [(t.key, t.weight) for t in terms] == [("公开性", 0.5), ("利诱性", 4.5), ("类型", 1.5), ("adjustment", 0.5)]
    assert sum(t.weight for t in terms) == 7.0
    assert [(t.key, t.weight) for t in score_terms(groups, 6.5)][-1] == ("类型", 1.5)  # nothing to adjust


def test_marks_in_the_text_carry_the_line_numbers():
    groups = explain(HITS)
    segs, stale = segments(TEXT, HITS, "text")
    ends = [s.ends for s in renumber(segs, groups) if s.ends]
    assert ends == [(2,), (4,), (3,), (1,), (5,)]  # 年化13% shows 2 once (two rules, one cue); 保本 4, 保息 3
    assert not stale
    assert lines_for(groups, [2, 6]) == [2, 4]
