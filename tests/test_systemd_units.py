"""The systemd units in docs/systemd/ (the scheduler as a service; the timer alternative) pass
`systemd-analyze verify`, with /srv/adclear replaced by this checkout so that the commands exist."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

UNITS = sorted((REPO / "docs" / "systemd").glob("adclear-*"))


def test_the_units_are_there():
    names = {u.name for u in UNITS}
    assert {"adclear-scheduler.service", "adclear-crawl.service", "adclear-crawl.timer"} <= names
    scheduler = (REPO / "docs" / "systemd" / "adclear-scheduler.service").read_text(encoding="utf-8")
    assert "KillMode=mixed" in scheduler  # SIGTERM to the scheduler alone: it stops its crawls itself
    grace = int(scheduler.split("--grace ")[1].split()[0])
    assert int(scheduler.split("TimeoutStopSec=")[1].split()[0]) > grace


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_analyze_verifies_every_unit(tmp_path):
    if not (REPO / ".venv" / "bin" / "adclear").exists():
        pytest.skip("no .venv/bin/adclear in this checkout for the units' commands to point at")
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8").replace("/srv/adclear", str(REPO))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [line for line in result.stderr.splitlines() if "adclear-" in line]
    assert result.returncode == 0 and not problems, result.stderr
