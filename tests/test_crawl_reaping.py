"""Chromium's child processes are reaped by the crawl: none is left behind, defunct or running.

The crawl runs under a small parent that is itself a subreaper and never waits for strangers, as PID 1 in many
containers does: whatever the crawl leaves behind is handed to that parent, which lists it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.conftest import ADCLEAR, REPO, seeds_for

pytestmark = pytest.mark.slow

HARNESS = textwrap.dedent(
    """
    import ctypes, json, os, subprocess, sys, time
    assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    crawl = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    time.sleep(1.0)
    me, left = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == me:
            left.append([stat[stat.find("(") + 1 : stat.rfind(")")], fields[0]])
            os.kill(int(pid), 9)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    print(json.dumps({"returncode": crawl.returncode, "stdout": crawl.stdout, "left": left}))
    """
)


def social_seeds(base_url, target):
    """The social demo only, without its searches, stopped after a few pages: a short crawl that starts and
    closes Chromium, pages still open in it when the crawl stops."""
    seeds_for(base_url, target)
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    data["sites"] = [s for s in data["sites"] if s["name"] == "demo-social"]
    del data["sites"][0]["search"]
    data["sites"][0]["max_pages"] = 8
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def test_no_browser_process_outlives_the_crawl(tmp_path, demo_site):
    seeds = social_seeds(demo_site, tmp_path / "seeds.yml")
    crawl = [*ADCLEAR, "--db", str(tmp_path / "data" / "adclear.db"), "--seeds", str(seeds), "crawl", "demo-social"]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    harness = subprocess.run(
        [sys.executable, "-c", HARNESS, *crawl], capture_output=True, text=True, timeout=280, env=env, cwd=REPO
    )
    assert harness.returncode == 0, harness.stderr
    report = json.loads(harness.stdout)
    assert report["returncode"] == 0, report["stdout"]
    assert "demo-social: ok (run 1)" in report["stdout"]
    assert report["left"] == []
