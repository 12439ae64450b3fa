"""A soak of `adclear scheduler`: hundreds of runs on fast intervals, with a fake crawl, and what is left after.

The scheduler (adclear/scheduler.py, its real loop in a thread, a real database) runs ``--jobs`` jobs (default 8)
whose schedule is an interval of ``--every`` seconds (default 0.02: below seeds.yml's one-minute floor, so the
schedules are made here, not read from a file), each a fake crawl (``sh -c 'sleep 0.01'``), at most
``--parallel`` (default 4) at once, until ``--runs`` runs (default 300) have ended; ``--rounds`` times (default 3).

Printed: runs per second; the ratio to a baseline measured in the same run, interleaved with the rounds: the same
processes started by a bare pool of the same bound (``subprocess.Popen`` and ``wait``, no schedule, no
database), so that the ratio is what the scheduler's bookkeeping costs; best and median of the rounds. Then the
soak's health: the process's memory (RSS) after the first round (warm) and at the end, its open file
descriptors before and after, child processes left, and the database's count of runs against the hooks' count.

    .venv/bin/python benchmarks/bench_scheduler.py
    .venv/bin/python benchmarks/bench_scheduler.py --runs 1000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from adclear.scheduler import Job, RunOutcome, Scheduler  # noqa: E402
from core.db import connect  # noqa: E402
from core.schedules import Schedule  # noqa: E402

FAKE_CRAWL = ("/bin/sh", "-c", "sleep 0.01")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def plan(jobs: int, every: float) -> list[Job]:
    schedule = Schedule(text=f"every {every}s", every=timedelta(seconds=every))
    return [Job(f"site-{i:02d}", "crawl", schedule, FAKE_CRAWL) for i in range(jobs)]


def scheduler_round(db_path: Path, args: argparse.Namespace) -> tuple[float, int]:
    """Runs per second of one round of the scheduler, and the runs counted by ``after_run``."""
    ended: list[RunOutcome] = []
    done = threading.Event()

    def after_run(outcome: RunOutcome) -> None:
        assert outcome.exit_code == 0 or outcome.stopped, outcome  # stopped: SIGTERM at the end of a round
        ended.append(outcome)
        if len(ended) >= args.runs:
            done.set()

    sched = Scheduler(
        db_path=db_path,
        load_plan=lambda: plan(args.jobs, args.every),
        max_parallel=args.parallel,
        tick=args.every / 4,
        after_run=after_run,
    )
    thread = threading.Thread(target=sched.run)
    started = time.perf_counter()
    thread.start()
    if not done.wait(600):
        raise SystemExit(f"only {len(ended)} runs in 600 s")
    sched.stop()
    thread.join()
    return len(ended) / (time.perf_counter() - started), len(ended)


def baseline_round(args: argparse.Namespace) -> float:
    """The same processes, the same bound, started by a bare pool."""
    started = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    launched = 0
    while launched < args.runs or running:
        while launched < args.runs and len(running) < args.parallel:
            running.append(subprocess.Popen(FAKE_CRAWL, stdin=subprocess.DEVNULL, start_new_session=True))
            launched += 1
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    return args.runs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--every", type=float, default=0.02, help="seconds between a job's runs")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--runs", type=int, default=300, help="runs per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "data" / "adclear.db"
        connect(db_path).close()
        fds_before, rss_start = open_fds(), me.memory_info().rss
        ours, base, counted, rss_warm = [], [], 0, 0
        for i in range(args.rounds):
            rate, n = scheduler_round(db_path, args)
            ours.append(rate)
            counted += n
            base.append(baseline_round(args))
            if i == 0:
                rss_warm = me.memory_info().rss
            rss = me.memory_info().rss / 1024 / 1024
            print(f"round {i + 1}: scheduler {ours[-1]:.0f} runs/s, bare pool {base[-1]:.0f} runs/s; RSS {rss:.1f} MB")
        rss_end, fds_after = me.memory_info().rss, open_fds()
        children = me.children(recursive=True)
        db = connect(db_path)
        finished = db.execute("SELECT count(*) FROM schedule_state WHERE last_finished IS NOT NULL").fetchone()[0]
        still = db.execute("SELECT count(*) FROM schedule_state WHERE running_pid IS NOT NULL").fetchone()[0]
        db.close()
    mb = 1024 * 1024
    print(f"\n{args.rounds} rounds of {args.runs} runs, {args.jobs} jobs every {args.every}s, {args.parallel} at once")
    print(
        f"scheduler: best {max(ours):.0f} runs/s, median {statistics.median(ours):.0f}; "
        f"bare pool: best {max(base):.0f}, median {statistics.median(base):.0f}; "
        f"ratio (median): {statistics.median(ours) / statistics.median(base):.2f}"
    )
    print(
        f"memory (RSS): {rss_start / mb:.1f} MB at start, {rss_warm / mb:.1f} MB after round 1, "
        f"{rss_end / mb:.1f} MB at the end ({(rss_end - rss_warm) / mb:+.1f} MB over "
        f"{counted - args.runs} runs after warm-up)"
    )
    print(f"open file descriptors: {fds_before} before, {fds_after} after")
    print(f"child processes left: {len(children)}; jobs recorded running: {still}; jobs that finished: {finished}")
    print(f"runs ended (after_run): {counted}")
    if children or still or fds_after > fds_before:
        raise SystemExit("leak: processes, running jobs or file descriptors left over")


if __name__ == "__main__":
    main()
