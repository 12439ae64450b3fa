"""Replay a crawl's WARC file with pywb 2.10, as an archivist or a court's expert would: every rendered post page.

pywb is not one of adclear's dependencies: 2.10 pins Werkzeug and cryptography below the versions Flask and
this project use, and installs brotlipy, which replaces the ``brotli`` module Scrapy decodes with. So it runs
from a virtualenv of its own, and this script imports nothing of adclear's (tests/test_replay.py replays the
same records with warcio, in the test suite):

    python3.11 -m venv /tmp/pywb && /tmp/pywb/bin/pip install pywb==2.10.0
    /tmp/pywb/bin/python benchmarks/replay_pywb.py data/warc/demo-social/SFX-demo-social-*.warc.gz

It makes a pywb collection of the file in a temporary directory and drives pywb's WSGI app in-process (no
network): for every page with a screenshot (``urn:screenshot:<url>``) it asks pywb for the page by its URL
(the HTML the server sent), for the screenshot by its URI and for the DOM the browser rendered
(``urn:dom:<url>``), and checks each against the record. With ``--chromium PATH`` it also serves pywb on a
loopback port (unframed replay) and has headless Chromium render each post's replay, checking that the post's
text (``<div class="post-text">``, or ``--expect URL=TEXT``), which its script puts on the page from the archived
JSON, appears. Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warc", type=Path, nargs="+")
    parser.add_argument("--chromium", help="also render each post's replay in this Chromium (headless)")
    parser.add_argument("--expect", action="append", default=[], help="URL=TEXT: text the replayed URL must show")
    args = parser.parse_args()
    try:
        from pywb.apps.frontendapp import FrontEndApp
        from pywb.manager.manager import CollectionsManager
        from warcio.archiveiterator import ArchiveIterator
        from werkzeug.test import Client
    except ImportError as e:
        sys.exit(f"pywb is not installed here ({e}): run this with the python of a virtualenv holding pywb 2.10")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="adclear-pywb-") as tmp:
        os.chdir(tmp)
        manager = CollectionsManager("evidence", must_exist=False)
        manager.add_collection()
        manager.add_archives([str(p.resolve()) for p in args.warc])
        records = {}  # (type, uri) → payload
        for path in args.warc:
            with open(path, "rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_type in ("response", "resource", "conversion"):
                        key = (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"))
                        records[key] = record.content_stream().read()
        pages = sorted(uri.removeprefix("urn:screenshot:") for kind, uri in records if kind == "resource")
        app = FrontEndApp()
        client = Client(app)
        print(f"{len(pages)} pages with a screenshot in {', '.join(p.name for p in args.warc)}")
        print(f"{'page':<60}{'HTML by URL':>14}{'screenshot':>12}{'DOM':>6}")
        for url in pages:
            checks = []
            wanted = (("response", url), ("resource", f"urn:screenshot:{url}"), ("conversion", f"urn:dom:{url}"))
            for kind, uri in wanted:
                answer = client.get(f"/evidence/id_/{uri}")
                expected = records.get((kind, uri))
                ok = answer.status_code == 200 and expected is not None and answer.get_data() == expected
                checks.append("ok" if ok else f"FAIL {answer.status_code}")
                failures += not ok
            print(f"{url[-59:]:<60}{checks[0]:>14}{checks[1]:>12}{checks[2]:>6}")
        if args.chromium:  # unframed: Chromium's --dump-dom prints the top document only, not an iframe's
            unframed = FrontEndApp(custom_config={"framed_replay": False})
            failures += render(unframed, args.chromium, pages, dict(e.split("=", 1) for e in args.expect))
    print("pywb replays every page" if not failures else f"{failures} failures")
    return 1 if failures else 0


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def render(app, chromium: str, pages: list[str], expect: dict[str, str]) -> int:
    """Serve pywb on loopback and have Chromium render each page's replay; 1 per page whose text is missing."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    failures = 0
    profile = tempfile.mkdtemp(prefix="adclear-pywb-chromium-")
    try:
        for url in pages:
            started = time.monotonic()
            dom = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    f"--user-data-dir={profile}",
                    "--virtual-time-budget=5000",
                    "--dump-dom",
                    f"{base}/evidence/{url}",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            wanted = expect.get(url, "")
            ok = wanted in dom if wanted else "post-text" in dom
            failures += not ok
            digest = hashlib.sha256(dom.encode("utf-8")).hexdigest()[:12]
            took = time.monotonic() - started
            print(f"rendered replay of {url}: {'ok' if ok else 'FAIL'} ({len(dom)} chars, {digest}, {took:.1f} s)")
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    return failures


if __name__ == "__main__":
    sys.exit(main())
