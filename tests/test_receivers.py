"""receivers.yml: routing per site, platform and region; every mistake named with its line and fix."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from review.receivers import ReceiversInvalid, UnknownReceiver, load_receivers
from review.workdays import CalendarNotCovered, add_working_days, covered_years, is_working_day

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
version: 1
receivers:
  - key: plat
    name: 平台运营公司
    kind: platform
    email: a@example.org
    deadline_days: 5
  - key: dept
    name: 示范县市场监督管理局
    kind: department
routes:
  - site: site-a
    receiver: plat
  - platform: 平台乙
    receiver: plat
  - region: 示范县
    receiver: dept
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receivers.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_site_wins_over_platform_over_region(tmp_path: Path) -> None:
    r = load_receivers(write(tmp_path, GOOD))
    assert r.route(site="site-a", platform="其他", region="示范县").key == "plat"
    assert r.route(site="site-b", platform="平台乙", region="示范县").key == "plat"
    assert r.route(site="site-c", platform="平台丙", region="示范县").key == "dept"
    assert r.get("plat").deadline_days == 5
    assert r.get("dept").deadline_days == 7  # the default: Art. 53's seven working days


def test_no_route_and_no_default_is_a_clear_error(tmp_path: Path) -> None:
    r = load_receivers(write(tmp_path, GOOD))
    with pytest.raises(UnknownReceiver, match="no route in .* for site 'x' .*add a route for it or a default"):
        r.route(site="x", platform="p", region="别县")


def test_unknown_receiver_key(tmp_path: Path) -> None:
    r = load_receivers(write(tmp_path, GOOD))
    with pytest.raises(UnknownReceiver, match="no receiver 'plats' .*did you mean 'plat'"):
        r.get("plats")


def test_route_to_an_undefined_receiver_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("receiver: dept", "receiver: depot"))
    with pytest.raises(ReceiversInvalid) as e:
        load_receivers(path)
    assert str(e.value) == f"{path} line 17: routes[2].receiver: no receiver 'depot' is defined; did you mean 'dept'?"


def test_mistyped_key_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  - platform: 平台乙", "  - platfrom: 平台乙"))
    with pytest.raises(ReceiversInvalid) as e:
        load_receivers(path)
    assert str(e.value) == f"{path} line 14: routes[1]: unknown key 'platfrom'; did you mean 'platform'?"


def test_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ReceiversInvalid, match=r"line 5: receivers\[0\].kind: Input should be 'platform' or"):
        load_receivers(write(tmp_path, GOOD.replace("kind: platform", "kind: plattform", 1)))
    with pytest.raises(ReceiversInvalid, match=r"line 6: receivers\[0\].email: 'not-an-address' is not an e-mail"):
        load_receivers(write(tmp_path, GOOD.replace("a@example.org", "not-an-address")))
    with pytest.raises(ReceiversInvalid, match=r"line 7: receivers\[0\].deadline_days: Input should be greater"):
        load_receivers(write(tmp_path, GOOD.replace("deadline_days: 5", "deadline_days: 0")))
    with pytest.raises(ReceiversInvalid, match=r"routes\[0\]: a route matches exactly one of site, platform or"):
        load_receivers(write(tmp_path, GOOD.replace("  - site: site-a\n", "  - site: site-a\n    region: 县\n")))
    with pytest.raises(ReceiversInvalid, match="two receivers have the key 'plat'"):
        load_receivers(write(tmp_path, GOOD.replace("key: dept", "key: plat")))
    with pytest.raises(ReceiversInvalid, match="line 1: expected a mapping"):
        load_receivers(write(tmp_path, "- just a list\n"))
    with pytest.raises(ReceiversInvalid, match="no such file; create it"):
        load_receivers(tmp_path / "absent.yml")


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ReceiversInvalid, match="line 8"):
        load_receivers(write(tmp_path, GOOD.replace("    deadline_days: 5\n", "    deadline_days: 5\n    kind: x\n")))


def test_the_shipped_file_routes_every_demo_site() -> None:
    from core.seeds import load_seeds

    receivers = load_receivers(REPO / "receivers.yml")
    for site in load_seeds(REPO / "seeds.yml").sites:
        assert receivers.route(site=site.name, platform=site.platform, region=site.region).name
    social = load_seeds(REPO / "seeds.yml").site("demo-social")
    assert receivers.route(site=social.name, platform=social.platform, region=social.region).key == "demo-quan"


# A year the installed chinesecalendar does not know, written by the office from the State Council's notice
# (the days below are made up for the test, not a real notice).
def _next_year() -> int:
    return covered_years()[1] + 1


def test_a_year_written_into_receivers_yml_counts_its_holidays_and_weekends_worked(tmp_path: Path) -> None:
    y = _next_year()
    r = load_receivers(write(tmp_path, GOOD + f"calendar:\n  {y}:\n    holidays: [{y}-01-01..{y}-01-03]\n"
                                              f"    workdays: [{y}-01-09]\n"))  # fmt: skip
    start = date(y - 1, 12, 30)
    while start.weekday() >= 5:
        start -= timedelta(days=1)
    # without the written year the deadline cannot be computed; with it, 1–3 January are skipped
    with pytest.raises(CalendarNotCovered, match=f"write its days into receivers.yml \\(calendar: {y}"):
        add_working_days(start, 7)
    due = add_working_days(start, 7, r.calendar)
    expected, left, day = None, 7, start
    while left:
        day += timedelta(days=1)
        if day.year == y - 1:
            left -= is_working_day(day)
        elif day == date(y, 1, 9) or (day.weekday() < 5 and not date(y, 1, 1) <= day <= date(y, 1, 3)):
            left -= 1
    expected = day
    assert due == expected
    assert is_working_day(date(y, 1, 9), r.calendar) and not is_working_day(date(y, 1, 2), r.calendar)
    with pytest.raises(CalendarNotCovered):
        is_working_day(date(y + 1, 3, 3), r.calendar)  # a year neither knows is still refused


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("holidays: [2031年2月3日]", "'2031年2月3日' is not a date"),
        ("holidays: [2030-12-31]", "'2030-12-31' is not within 2031"),
        ("holidays: [2031-02-08..2031-02-01]", "first day first"),
        ("holidays: [2031-02-01]\n    workdays: [2031-02-01]", "2031-02-01 is both a holiday and a working day"),
    ],
)
def test_a_mistyped_calendar_names_its_line(tmp_path: Path, entry: str, message: str) -> None:
    text = GOOD + f"calendar:\n  2031:\n    {entry}\n"
    with pytest.raises(
        ReceiversInvalid, match=f"line {text.splitlines().index('calendar:') + 1}: calendar: .*{message}"
    ):
        load_receivers(write(tmp_path, text))
