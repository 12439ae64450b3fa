"""Campaigns: made from options or a YAML file, refused with the line of what does not fit, audited."""

from __future__ import annotations

import json
from datetime import date

import pytest

from review import audit, campaigns
from review.campaigns import CampaignError, CampaignSpec, Phase
from review.users import add_user
from tests.conftest import run_adclear

GOOD = """\
name: 2026年冬季打击非法集资宣传专项行动
office: 示范县处置非法集资工作领导小组办公室
from: 2026-11-16
to: 2026-12-31
scope: {sites: [demo-classifieds], regions: [], categories: [投资理财/P2P网贷]}
phases:
  - {name: 部署落实, from: 2026-11-16, to: 2026-11-22}
  - {name: 排查整治, from: 2026-11-23, to: 2026-12-20}
"""


def test_a_campaign_from_a_file_is_recorded_with_its_phases_and_audited(db, tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(GOOD, encoding="utf-8")
    made = campaigns.create(db, campaigns.load_file(path), actor="王五")
    assert (made.starts_on, made.ends_on, made.sites, made.categories) == (
        date(2026, 11, 16), date(2026, 12, 31), ["demo-classifieds"], ["投资理财/P2P网贷"])  # fmt: skip
    assert [p.name for p in made.phases] == ["部署落实", "排查整治"]
    campaigns.add_phase(db, made.name, Phase("督导总结", date(2026, 12, 21), date(2026, 12, 31)), actor="王五")
    assert [p.name for p in campaigns.get(db, made.name).phases][-1] == "督导总结"
    logged = [(e["action"], e["actor"]) for e in audit.page(db)]
    assert logged == [("campaign_phase", "王五"), ("campaign_create", "王五")]
    with pytest.raises(CampaignError, match="exists already"):
        campaigns.create(db, campaigns.load_file(path), actor="王五")


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        (("from: 2026-11-16", "from: 2026-11-31"), 3, "'2026-11-31' is not a valid"),
        (("to: 2026-12-31", "to: 2026-11-01"), 4, "ends (2026-11-01) before it starts"),
        (("to: 2026-11-22}", "to: 2026-11-23}"), 8, "overlaps phase '部署落实'"),
        (("to: 2026-12-20}", "to: 2027-01-20}"), 8, "lies outside campaign"),
        (("from: 2026-11-23, to", "from: 11/23, to"), 8, "from must be a day YYYY-MM-DD, not '11/23'"),
        (("categories: [投资理财/P2P网贷]", "categories: [理财]"), 5, "unknown category '理财'"),
        (("office:", "offices:"), 2, "unknown key 'offices'"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(tmp_path, change, line, says):
    path = tmp_path / "c.yml"
    path.write_text(GOOD.replace(*change), encoding="utf-8")
    with pytest.raises(CampaignError) as refused:
        campaigns.load_file(path)
    assert f"c.yml line {line}: " in str(refused.value) and says in str(refused.value)


def test_the_command_line_refuses_a_bad_day_and_an_unknown_phase(db_path, db):
    add_user(db, "王五", "supervisor", "Kiwi-Harbor-2041")
    bad = run_adclear("campaign", "create", "专项", "--from", "2026-11-16", "--to", "2026-02-30", "--as", "王五",
                      db=db_path)  # fmt: skip
    assert bad.returncode == 1 and "--to must be a day YYYY-MM-DD, not '2026-02-30'" in bad.stderr
    run_adclear("campaign", "create", "专项", "--from", "2026-11-16", "--to", "2026-11-30", "--as", "王五",
                db=db_path, check=True)  # fmt: skip
    missing = run_adclear("stats", "--campaign", "专项", "--phase", "督导", db=db_path)
    assert missing.returncode == 1 and "has no phase '督导'" in missing.stderr
    empty = json.loads(run_adclear("stats", "--campaign", "专项", "--json", db=db_path, check=True).stdout)
    assert set(empty["totals"].values()) == {0} and empty["illegal_rate"] is None
    assert campaigns.listing(db)[0].name == "专项"


def test_a_phase_outside_its_campaign_is_refused(db):
    spec = CampaignSpec("专项", date(2026, 11, 16), date(2026, 11, 30))
    campaigns.create(db, spec, actor="王五")
    with pytest.raises(CampaignError, match="lies outside campaign"):
        campaigns.add_phase(db, "专项", Phase("晚", date(2026, 11, 25), date(2026, 12, 5)), actor="王五")
