"""SSRF: no request of the crawler, nor of the browser it drives, reaches an address the site may not reach.

The demo runs on 127.0.0.1; an "internal" server, standing for an intranet host, runs on another port of the same
address. The sites below may reach the demo's host:port only (``allow_addresses``). Host names resolve through
the hostile demo's resolver (``demo.hostile.ssrf.resolve``): intranet.test is the internal server's address,
private.test a private address; nothing asks a real DNS server, and nothing is sent beyond loopback (a private
address is refused before connecting). The internal server counts every connection it accepts: none may come.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from crawler.netpolicy import Allowance, NetworkPolicy, address_problem
from crawler.resolver import AddressBook
from tests.conftest import run_adclear

SECRET = "内网机密 年化30% 保本保息"


# ---- the policy itself (no network) -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "not a public address"),
        ("fd00::1", "a private address"),
        ("::ffff:10.0.0.1", "a private address (10.0.0.1) inside an IPv6 address"),
        ("2002:a00:1::", "a private address (10.0.0.1) inside an IPv6 address"),
        ("64:ff9b::a9fe:a9fe", "a link-local address (169.254.169.254) inside an IPv6 address"),
        ("93.184.216.34", None),
        ("2606:2800:220:1::1", None),
    ],
)
def test_addresses_that_are_not_public_are_named(address, problem):
    assert address_problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("10.20.0.0/16", "10.20.0.0/16"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:8731", "127.0.0.1:8731"),
        ("http://127.0.0.1:8731/", "127.0.0.1:8731"),
        ("https://10.0.0.5", "10.0.0.5:443"),
        ("[::1]:8731", "[::1]:8731"),
        ("::1", "::1"),
    ],
)
def test_allowances_are_ranges_or_one_server(text, shown):
    assert str(Allowance.parse(text)) == shown


@pytest.mark.parametrize("text", ["intranet.example", "http://intranet.example:80", "10.0.0.0/33", "1.2.3.4:0", ""])
def test_an_allowance_must_be_an_address(text):
    with pytest.raises(ValueError, match="write addresses, not host names|port outside"):
        Allowance.parse(text)


def test_the_policy_refuses_scheme_domain_and_address_with_reasons():
    policy = NetworkPolicy(["127.0.0.1", "intranet.test"], [Allowance.parse("127.0.0.1:8731")])
    assert policy.check_url("http://127.0.0.1:8731/x") is None
    assert policy.check_url("ftp://127.0.0.1:8731/x").kind == "offsite"
    assert policy.check_url("http://www.example.com/").message == (
        "not followed: www.example.com is outside allowed_domains (127.0.0.1, intranet.test)"
    )
    refused = policy.check_url("http://127.0.0.1:8732/")
    assert (refused.kind, refused.message) == (
        "blocked",
        "refused before connecting: 127.0.0.1 is a loopback address (port 8732; allow_addresses has "
        "127.0.0.1:8731 only); add it to the site's allow_addresses in seeds.yml if the site is really there",
    )
    assert policy.check_url("http://intranet.test:8732/") is None  # a name: decided once it is resolved
    addresses = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]
    refused = policy.check_addresses("intranet.test", 80, addresses)
    assert refused.message.startswith("refused before connecting: intranet.test resolves to 10.0.0.1, a private")


def test_names_are_resolved_once_by_the_injected_resolver():
    calls = []

    def resolve(host):
        calls.append(host)
        return ["10.9.8.7"] if len(calls) == 1 else ["93.184.216.34"]  # a rebinding DNS server

    book = AddressBook(resolve)
    assert book.lookup("Rebind.Test.") == [ipaddress.ip_address("10.9.8.7")]
    assert book.lookup("rebind.test") == [ipaddress.ip_address("10.9.8.7")]  # pinned: the answer checked
    assert calls == ["rebind.test"]
    with pytest.raises(OSError):
        AddressBook(lambda host: []).lookup("nothing.test")


# ---- crawls: the plain crawler and Chromium ---------------------------------------------------------------
class _Internal(ThreadingHTTPServer):
    """The internal host: counts every connection it accepts, and would serve what looks like an ad."""

    daemon_threads = True

    def __init__(self):
        self.connections = 0
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _InternalHandler)

    def verify_request(self, request, client_address):  # socketserver's hook: every accept
        self.connections += 1
        return True


class _InternalHandler(BaseHTTPRequestHandler):
    server: _Internal

    def do_GET(self):
        self.server.paths.append(self.path)
        page = f'<h1 class="ad-title">{SECRET}</h1><div class="ad-body post-text">{SECRET}</div>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


SEEDS = """\
sites:
  - name: ssrf-forum
    platform: 坏站示例
    kind: forum
    start_urls: ["{demo}/hostile/ssrf/", "http://demo.test:{port}/hostile/ssrf/"]
    allowed_domains: [127.0.0.1, intranet.test, private.test, demo.test]
    allow_addresses: ["{demo}"]
    list:
      items: "ul.ad-list li a.ad-title"
    detail:
      title: "h1.ad-title"
      body: "div.ad-body"
    delay: 0
  - name: ssrf-social
    platform: 坏站示例
    kind: social
    start_urls: ["{demo}/hostile/ssrf/feed"]
    allowed_domains: [127.0.0.1, intranet.test, private.test]
    allow_addresses: ["{demo}"]
    render:
      wait_for: "#feed article.post-card"
      max_loads: 0
      timeout: 10
    list:
      items: "#feed article.post-card a.post-link"
    detail:
      body: "div.post-text"
    delay: 0
    concurrency: 4
"""


@pytest.fixture(scope="module")
def ssrf(tmp_path_factory):
    from demo.server import start

    internal = _Internal()
    threading.Thread(target=internal.serve_forever, daemon=True).start()
    demo = start(0)
    internal_url = f"http://127.0.0.1:{internal.server_address[1]}"
    demo.hostile.ssrf.internal = internal_url
    tmp = tmp_path_factory.mktemp("ssrf")
    seeds = tmp / "seeds.yml"
    seeds.write_text(SEEDS.format(demo=demo.base_url, port=demo.server_address[1]), encoding="utf-8")
    db = tmp / "data" / "adclear.db"
    os.environ["ADCLEAR_RESOLVER"] = "demo.hostile.ssrf.resolve"
    try:
        result = run_adclear("crawl", "ssrf-forum", "ssrf-social", db=db, seeds=seeds)
    finally:
        del os.environ["ADCLEAR_RESOLVER"]
        demo.shutdown()
        demo.server_close()
        internal.shutdown()
        internal.server_close()
    return db, result, demo, internal, internal_url


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.slow
def test_nothing_reaches_the_internal_host_and_nothing_of_it_is_stored(ssrf):
    """... and a name that resolves to the allowed server (demo.test) is fetched, through the pinned resolver."""
    db, result, demo, internal, internal_url = ssrf
    demo_port = demo.server_address[1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert internal.connections == 0 and internal.paths == []
    fetched = {url for (url,) in rows(db, "SELECT url FROM pages WHERE status = 200")}
    assert {urlsplit(url).netloc for url in fetched} == {urlsplit(demo.base_url).netloc, f"demo.test:{demo_port}"}
    assert not rows(db, "SELECT id FROM ads WHERE title LIKE '%内网机密%' OR body LIKE '%内网机密%'")
    stored = {url.rsplit("/", 1)[-1] for (url,) in rows(db, "SELECT url FROM ads WHERE site = 'ssrf-social'")}
    assert stored == {"img", "fetch", "nav", "socket", "worker", "named"}


def refusals(db, site):
    return {
        url: (kind, message)
        for url, kind, message in rows(
            db,
            "SELECT e.url, e.kind, e.message FROM crawl_errors e JOIN crawl_runs r ON r.id = e.run_id WHERE r.site = ?",
            site,
        )
        if kind in ("blocked", "offsite")
    }


def loopback(port):
    return f"127.0.0.1 is a loopback address (port {port}; allow_addresses has 127.0.0.1:"


@pytest.mark.slow
def test_the_plain_crawler_refuses_links_redirects_and_names_and_records_why(ssrf):
    db, _, demo, internal, internal_url = ssrf
    port = internal.server_address[1]
    got = refusals(db, "ssrf-forum")
    base = f"{demo.base_url}/hostile/ssrf"
    assert got[f"{internal_url}/direct"][0] == "blocked"
    assert loopback(port) in got[f"{internal_url}/direct"][1]
    kind, message = got[f"{base}/go-internal"]
    assert kind == "blocked" and message.startswith(f"redirects to {internal_url}/redirect: refused before connecting")
    kind, message = got[f"http://intranet.test:{port}/named"]
    assert message.startswith("refused before connecting: intranet.test resolves to 127.0.0.1, a loopback address")
    kind, message = got["http://private.test/latest/meta-data/"]
    assert message.startswith("refused before connecting: private.test resolves to 10.20.30.40, a private address")
    kind, message = got[f"{base}/go-private"]
    assert message.startswith("redirects to http://private.test/metadata: refused before connecting: private.test")


@pytest.mark.slow
def test_the_browser_is_refused_img_fetch_navigation_redirect_and_names(ssrf):
    db, _, demo, internal, internal_url = ssrf
    port = internal.server_address[1]
    got = refusals(db, "ssrf-social")
    expected = {
        f"{internal_url}/img.png": "the browser's image request: refused before connecting: ",
        f"{internal_url}/fetch": "the browser's fetch request: refused before connecting: ",
        f"http://intranet.test:{port}/fetch-named": "the browser's fetch request: refused before connecting: "
        "intranet.test resolves to 127.0.0.1",
        f"http://intranet.test:{port}/img-named.png": "the browser's image request: refused before connecting: "
        "intranet.test resolves to 127.0.0.1",
        f"{internal_url}/nav": "the browser's navigation request: refused before connecting: ",
        f"{internal_url}/nav-now": "the browser's navigation request: refused before connecting: ",
        f"{demo.base_url}/hostile/ssrf/p/redirect": f"the browser's navigation request redirects to {internal_url}"
        "/post-redirect: refused before connecting: ",
    }
    for url, start in expected.items():
        assert url in got, f"{url} not recorded: {sorted(got)}"
        kind, message = got[url]
        assert kind == "blocked" and message.startswith(start), (url, message)
        assert f"(port {port}; allow_addresses has" in message
    # a page that leaves for a refused address while it loads never finishes loading: its text is lost
    nav_now = f"{demo.base_url}/hostile/ssrf/p/nav-now"
    assert rows(db, "SELECT kind FROM crawl_errors WHERE url = ?", nav_now) == [("render_timeout",)]
    # the WebSocket and the preconnect: refused at the SOCKS gate, recorded by host and port
    kind, message = got[f"{internal_url}/"]
    assert kind == "blocked" and message.startswith("a connection the browser opened")


@pytest.mark.slow
def test_service_workers_are_blocked(ssrf):
    _, _, demo, *_ = ssrf
    assert [path for _, path in demo.requests if path.endswith("/sw.js")] == []


def test_the_hostile_resolver_never_asks_dns():
    from demo.hostile.ssrf import resolve

    assert resolve("intranet.test") == ["127.0.0.1"]
    with pytest.raises(socket.gaierror):
        resolve("www.example.com")


@pytest.mark.slow
def test_the_archive_holds_what_the_browser_loaded_and_nothing_it_was_refused(ssrf):
    """Rendered pages are archived with the responses they loaded (crawler/pagepool.py records them); a request
    the policy refused was never sent, so no record of it exists (only its refusal in crawl_errors)."""
    from core.warc import index

    db, _, demo, internal, internal_url = ssrf
    ((warc_file,),) = rows(db, "SELECT warc_file FROM crawl_runs WHERE site = 'ssrf-social'")
    entries = index(db.parent / warc_file)
    archived = {e.uri for e in entries if e.type in ("request", "response", "revisit")}
    assert {urlsplit(uri).netloc for uri in archived} == {urlsplit(demo.base_url).netloc}
    assert {e.type for e in entries} >= {"conversion", "response"}
    refused = refusals(db, "ssrf-social")
    assert refused and not set(refused) & archived
    assert internal.connections == 0
