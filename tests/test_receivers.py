"""receivers.yml: routing per site, platform and region; every mistake named with its line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from review.receivers import ReceiversInvalid, UnknownReceiver, load_receivers

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
