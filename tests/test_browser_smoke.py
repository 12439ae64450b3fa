"""Debian's Chromium launches as the crawler launches it, runs JavaScript and draws Chinese; the rendering
spider's settings close the ways a rendering crawl fails silently (crawler/browser.py). Debian ships one
Chromium at a time, so an update can reach a fresh machine without a code change: this is the test that
notices.
"""

from __future__ import annotations

import os
import struct

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>
<div id="feed"></div>
<canvas id="a" width="64" height="64"></canvas><canvas id="b" width="64" height="64"></canvas>
<script>
  const p = document.createElement("p");
  p.className = "post";
  p.textContent = "年化收益12%，保本保息";
  document.getElementById("feed").appendChild(p);
  for (const [id, ch] of [["a", "理"], ["b", "财"]]) {
    const c = document.getElementById(id).getContext("2d");
    c.font = "48px sans-serif";
    c.fillText(ch, 4, 52);
  }
</script></body></html>"""


def test_chromium_launches_renders_javascript_and_chinese(browser):
    major = int(browser.version.split(".")[0])
    assert major >= 120, f"Chromium {browser.version} is older than this project was tested with"
    page = browser.new_page()
    try:
        page.set_content(PAGE)
        assert page.inner_text("p.post") == "年化收益12%，保本保息"
        # Without a CJK font both characters come out as the same empty box ("tofu"): install fonts-noto-cjk.
        a, b = page.evaluate("() => ['a', 'b'].map((id) => document.getElementById(id).toDataURL())")
        assert a != b, "Chinese characters render as identical boxes: fonts-noto-cjk is missing"
        png = page.screenshot(full_page=True)
    finally:
        page.close()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 720)


def test_the_rendering_spider_closes_the_traps(tmp_path):
    """executable_path given, Playwright's handler for http AND https, asyncio reactor, bounded pages, restarts,
    memory limit counting the browser; the classifieds spider keeps Scrapy's plain handler."""
    from scrapy.utils.misc import load_object
    from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

    from adclear.crawl import crawl_settings
    from core.seeds import load_seeds
    from crawler.spiderloader import spider_class

    seeds = load_seeds(REPO / "seeds.yml")

    def settings_for(name):
        settings = crawl_settings(tmp_path / "a.db", REPO / "seeds.yml", log_file=None)
        spider_class(seeds.site(name), seeds.operator).update_settings(settings)
        return settings

    social = settings_for("demo-social")
    for scheme in ("http", "https"):
        handler = load_object(social.getdict("DOWNLOAD_HANDLERS")[scheme])
        assert issubclass(handler, ScrapyPlaywrightDownloadHandler), scheme
    launch = social.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == os.environ.get("ADCLEAR_CHROMIUM", "/usr/bin/chromium")
    assert launch["headless"] is True
    assert "--no-sandbox" in launch["args"]
    assert social["TWISTED_REACTOR"] == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    assert 1 <= social.getint("PLAYWRIGHT_MAX_CONTEXTS") <= 4
    assert 1 <= social.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT") <= 16
    assert social.getbool("PLAYWRIGHT_RESTART_DISCONNECTED_BROWSER")
    assert social.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 15_000  # render.timeout of demo-social
    extensions = social.getwithbase("EXTENSIONS")
    assert extensions["scrapy_playwright.memusage.ScrapyPlaywrightMemoryUsageExtension"] is not None
    assert extensions["scrapy.extensions.memusage.MemoryUsage"] is None
    assert "crawler.extensions.RunRecorder" in extensions, "the project's extensions must be kept"
    assert social.getint("MEMUSAGE_LIMIT_MB") > 0

    classifieds = settings_for("demo-classifieds")
    assert "http" not in classifieds.getdict("DOWNLOAD_HANDLERS")
    assert "PLAYWRIGHT_LAUNCH_OPTIONS" not in classifieds.attributes or not classifieds.getdict(
        "PLAYWRIGHT_LAUNCH_OPTIONS"
    )


def test_the_chromium_path_can_be_set(tmp_path):
    """ADCLEAR_CHROMIUM (environment variable or Scrapy setting) picks the browser."""
    from adclear.crawl import crawl_settings
    from core.seeds import load_seeds
    from crawler.browser import executable_problem
    from crawler.spiderloader import spider_class

    seeds = load_seeds(REPO / "seeds.yml")
    settings = crawl_settings(tmp_path / "a.db", REPO / "seeds.yml", log_file=None)
    settings.set("ADCLEAR_CHROMIUM", "/opt/chromium/chrome", priority="cmdline")
    spider_class(seeds.site("demo-social"), seeds.operator).update_settings(settings)
    assert settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")["executable_path"] == "/opt/chromium/chrome"
    assert executable_problem("/opt/chromium/chrome") == (
        "the browser could not start: no Chromium at /opt/chromium/chrome; "
        "install Debian's chromium (make system-deps) or set ADCLEAR_CHROMIUM to its path"
    )
    assert executable_problem("/usr/bin/chromium") is None
