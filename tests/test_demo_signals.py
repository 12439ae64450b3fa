"""`adclear demo` stops on Ctrl-C and SIGTERM at any point, in a real terminal, and frees its two ports.

It once ignored Ctrl-C for good after the crawl (Scrapy's signal handlers outlived the reactor) and left port 8731
bound but never answering (the demo server was shut down, not closed). The demo's seeds.yml expects the demo
sites on 8731, so this test uses the real ports: it fails at once, saying so, if another program holds them.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SITES, WEB = 8731, 8732


def port_free(port: int) -> bool:
    """Nothing answers on the port and a new server could listen there (as the demo's servers do)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Terminal:
    """`adclear demo` in a pseudo-terminal, its output collected as it comes."""

    def __init__(self, db: Path):
        self.output = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the command as a user types it, from the repository
            # in a user's terminal Ctrl-C is delivered; a test run started in the background (`make test &`, nohup)
            # ignores SIGINT and every child would inherit that, Python then leaving it ignored while serving
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.chdir(ROOT)
            os.execv(sys.executable, [sys.executable, "-m", "adclear", "--db", str(db), "demo"])

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    time.sleep(0.1)

    def wait_for(self, text: str, seconds: float = 180) -> None:
        end = time.monotonic() + seconds
        while text.encode() not in self.output:
            assert time.monotonic() < end, f"no {text!r} in {seconds} s:\n{self.text()}"
            assert os.waitpid(self.pid, os.WNOHANG) == (0, 0), f"exited before {text!r}:\n{self.text()}"
            self.read(0.2)

    def exit_code(self, seconds: float = 60) -> int | None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.read(0.2)
                return os.waitstatus_to_exitcode(status)
            self.read(0.2)
        return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")[-3000:]


def fetch(port: int, seconds: float = 30) -> str:
    """The page at the port's root; the server may print its address a moment before it listens."""
    end = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                return answer.read().decode("utf-8", "replace")
        except ConnectionRefusedError:
            pass
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError):
                raise
        assert time.monotonic() < end, f"nothing answers on port {port}"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(600)  # four runs of the demo, two of them whole crawls
def test_the_demo_stops_during_the_crawl_and_while_serving(tmp_path):
    # Ctrl-C, then SIGTERM, in one test: both need the demo's real ports, and two tests of a parallel run
    # (make test runs two workers) could hold them at once
    for how in (signal.SIGINT, signal.SIGTERM):
        stopped_by(how, tmp_path / how.name)


def stopped_by(how: signal.Signals, tmp_path: Path) -> None:
    assert port_free(SITES) and port_free(WEB), f"ports {SITES} and {WEB} must be free for this test"
    db = tmp_path / "data" / "adclear.db"

    crawling = Terminal(db)
    try:
        crawling.wait_for("Crawling the sites")
        crawling.read(3)  # into the crawl
        os.kill(crawling.pid, how)
        code = crawling.exit_code()
        assert code == 130, f"exit {code}:\n{crawling.text()}"
        assert "The crawl was stopped" in crawling.text()
        assert "Review web app" not in crawling.text()  # it did not go on to serve
    finally:
        crawling.kill()
    assert port_free(SITES) and port_free(WEB)

    serving = Terminal(db)  # again on the same database: the crawl resumes, then the app is served
    try:
        serving.wait_for("Ctrl-C stops it")
        assert "adclear 演示站点" in fetch(SITES)  # the demo sites stay served while the web app runs
        assert "<form" in fetch(WEB)  # the login page
        os.kill(serving.pid, how)
        code = serving.exit_code()
        assert code == 0, f"exit {code}:\n{serving.text()}"
    finally:
        serving.kill()
    assert port_free(SITES) and port_free(WEB)
