"""The shared frontier of a distributed crawl: scrapy-redis's scheduler, priority queue and duplicate filter,
with acknowledgement added where upstream has none.

scrapy-redis (0.9.1) pops a request with ZRANGE + ZREMRANGEBYRANK: a node killed while the request is in flight
loses it for good. Here a pop is one Lua script that moves the request from the site's queue into the node's
in-flight hash (``adclear:SITE:inflight:NODE``); the request leaves that hash only once Scrapy is done with it
(its response parsed, the ads and pages read from it sent to the stream, the requests it led to queued). Every
node beats a heartbeat into ``adclear:heartbeats`` (Redis's own clock) and, on the same timer, reaps: the
in-flight requests of a node whose heartbeat is older than ``ADCLEAR_REDIS_DEAD_AFTER`` go back to the queue.
So a kill -9 loses no request; at worst a page is fetched twice, which the ingest writer makes harmless.

Scrapy says when it is done with a request only in its engine's set of requests in progress
(``engine._slot.inprogress``, which a request leaves after its output was processed): the heartbeat compares the
requests this node was handed with that set. Pinned Scrapy (2.19); tests/test_distributed.py checks it.

One crawl of a site across nodes is a *job* (``adclear:SITE:job``). The first node to start one seeds the queue
from the spider's start requests (the duplicate filter keeps the others' out). A node idle twice in a row with
the site's queue and every node's in-flight hash empty ends the job, once (a Lua script): the ``end`` entry goes
to the stream and the job's duplicate filter is dropped, so the next crawl starts afresh.

Politeness holds across nodes: ``NodeThrottleMiddleware`` spaces a site's requests by its ``delay`` through one
Redis key per site, whatever the number of nodes; it also holds downloads while the stream is over its bound.
"""

from __future__ import annotations

import asyncio
import logging
from secrets import token_hex
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.node import StreamRecorder
from crawler.stream import FORMAT, ITEMS_KEY

__all__ = ["ReliableQueue", "ReliableScheduler", "NodeThrottleMiddleware", "keys"]

log = logging.getLogger(__name__)

HEARTBEATS = "adclear:heartbeats"

# The head of the queue into this node's in-flight hash (member → score, to be put back as it was).
POP = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then return false end
redis.call('ZREM', KEYS[1], head[1])
redis.call('HSET', KEYS[2], head[1], head[2])
redis.call('SADD', KEYS[3], ARGV[1])
return head[1]
"""
# This node's heartbeat; the in-flight requests of the site's nodes that stopped beating, back into the queue.
BEAT_AND_REAP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400)
local reaped = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local seen = redis.call('ZSCORE', KEYS[1], node)
  if node ~= ARGV[1] and ((not seen) or tonumber(seen) < now - tonumber(ARGV[2])) then
    local key = ARGV[3] .. node
    local held = redis.call('HGETALL', key)
    for i = 1, #held, 2 do redis.call('ZADD', KEYS[3], held[i + 1], held[i]) end
    redis.call('DEL', key)
    redis.call('SREM', KEYS[2], node)
    reaped = reaped + #held / 2
  end
end
return reaped
"""
# A node leaving: what it still holds goes back, and it is no longer a node of the site.
LEAVE = """
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do redis.call('ZADD', KEYS[2], held[i + 1], held[i]) end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return #held / 2
"""
# Members of this node's in-flight hash it was never handed (a pop whose reply was lost and retried), back.
RETURN = """
for _, member in ipairs(ARGV) do
  local score = redis.call('HGET', KEYS[1], member)
  if score then
    redis.call('ZADD', KEYS[2], score, member)
    redis.call('HDEL', KEYS[1], member)
  end
end
return #ARGV
"""
# The end of a job, once: nothing queued, nothing in flight anywhere; the end entry and a fresh filter.
FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
for _, node in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('HLEN', ARGV[2] .. node) > 0 then return 0 end
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('XADD', KEYS[5], '*', unpack(ARGV, 3))
return 1
"""
# The time a site's next request may start, reserved: seconds to wait.
PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local at = tonumber(redis.call('GET', KEYS[1]) or '0')
if at < now then at = now end
redis.call('SET', KEYS[1], tostring(at + tonumber(ARGV[1])), 'EX', 3600)
return tostring(at - now)
"""


def keys(site: str) -> dict[str, str]:
    """The Redis keys of a site's frontier."""
    prefix = f"adclear:{site}"
    return {
        "queue": f"{prefix}:requests",
        "dupefilter": f"{prefix}:dupefilter",
        "job": f"{prefix}:job",
        "nodes": f"{prefix}:nodes",
        "inflight": f"{prefix}:inflight:",  # + node
        "pace": f"{prefix}:pace",
    }


class ReliableQueue(PriorityQueue):
    """scrapy-redis's priority queue (a sorted set, pushed as upstream does) whose pop is acknowledged."""

    inflight = ""  # this node's in-flight hash of the site (set by the scheduler)
    nodes = ""
    node = ""

    def pop(self, timeout: int = 0) -> Request | None:
        data = self.server.eval(POP, 3, self.key, self.inflight, self.nodes, self.node)
        if data is None:
            return None
        request = self._decode_request(data)
        request.meta[_HELD] = data
        return request


_HELD = "adclear_held"  # request meta: its member in the in-flight hash (until Scrapy is done with it)


class ReliableScheduler(Scheduler):
    """scrapy-redis's Scheduler with ``ReliableQueue``, the heartbeat and reaper, and the end of a job."""

    def __init__(self, crawler: Crawler, recorder: StreamRecorder):
        settings = crawler.settings
        super().__init__(
            server=recorder.client,
            persist=True,  # the queue and the filter belong to the job, not to this node
            queue_cls=f"{__name__}.ReliableQueue",
            idle_before_close=0,
        )
        self.crawler = crawler
        self.recorder = recorder
        self.beat_seconds = settings.getfloat("ADCLEAR_REDIS_HEARTBEAT", 2.0)
        self.dead_after = settings.getfloat("ADCLEAR_REDIS_DEAD_AFTER", 15.0)
        self.keys: dict[str, str] = {}
        self.handed: dict[Request, bytes] = {}  # requests this node was handed, until Scrapy is done with them
        self._beat: task.LoopingCall | None = None
        self._idle_done = 0  # idle checks in a row that found the job done
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReliableScheduler:
        recorder = crawler.get_extension(StreamRecorder)
        if recorder is None:
            raise NotConfigured("ReliableScheduler needs the StreamRecorder extension (adclear crawl --redis)")
        instance = cls(crawler, recorder)
        instance.stats = crawler.stats
        return instance

    def open(self, spider: Spider) -> None:
        """Upstream's ``open``, with this node's keys (and without its deprecated ``spider.log``)."""
        self.spider = spider
        self.keys = keys(spider.name)
        self.df = RFPDupeFilter(self.server, key=self.keys["dupefilter"])
        self.queue = ReliableQueue(self.server, spider, self.keys["queue"], serializer=self.serializer)
        self.queue.inflight = self.keys["inflight"] + self.recorder.node
        self.queue.nodes = self.keys["nodes"]
        self.queue.node = self.recorder.node
        self.server.set(self.keys["job"], token_hex(8), nx=True)
        self.recorder.job = self.server.get(self.keys["job"]).decode()
        log.info("%s: job %s, %d requests queued", spider.name, self.recorder.job, len(self.queue))
        self._beat = task.LoopingCall(self.beat)
        self._beat.start(self.beat_seconds, now=True)

    def close(self, reason: str) -> None:
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        if self.recorder.lost:
            return  # the reaper of another node (or of this one, restarted) puts its requests back
        try:
            self.acknowledge(everything=True)
            self.server.eval(LEAVE, 3, self.queue.inflight, self.keys["queue"], self.keys["nodes"], self.recorder.node)
            self.server.zrem(HEARTBEATS, self.recorder.node)
        except RedisError as e:
            log.warning("could not leave the frontier cleanly (%s): the reaper will", e)

    def next_request(self) -> Request | None:
        if self.recorder.lost:
            return None
        try:
            request = self.queue.pop()
        except RedisError as e:
            self.recorder.give_up(str(e))
            return None
        if request is not None:
            self.handed[request] = request.meta.pop(_HELD)
            if self.stats:
                self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def enqueue_request(self, request: Request) -> bool:
        """As upstream (the filter, then the queue), with the stats of current Scrapy."""
        if self.recorder.lost:
            return False  # the request that led here stays in flight: the reaper fetches it again
        try:
            if not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                return False
            self.queue.push(request)
        except RedisError as e:  # the request that led here stays in flight: the reaper fetches it again
            self.recorder.give_up(str(e))
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def has_pending_requests(self) -> bool:
        if self.recorder.lost:
            return False  # what is queued is the other nodes' now
        try:
            return len(self) > 0
        except RedisError:
            return True  # not known: the heartbeat (or the give-up) decides

    # ---- heartbeat, acknowledgement, reaping ---------------------------------------------------------
    def beat(self) -> None:
        if self.recorder.lost:
            return
        try:
            self.acknowledge()
            self.return_strays()
            reaped = self.server.eval(
                BEAT_AND_REAP,
                3,
                HEARTBEATS,
                self.keys["nodes"],
                self.keys["queue"],
                self.recorder.node,
                self.dead_after,
                self.keys["inflight"],
            )
        except RedisError as e:  # the client retried for ADCLEAR_REDIS_RETRY_SECONDS already
            self.recorder.give_up(str(e))
            return
        if reaped:
            log.warning("%d requests of nodes that stopped beating are queued again", reaped)
            if self.stats:
                self.stats.inc_value("adclear/frontier/reaped", reaped)
        self.wake()

    def wake(self) -> None:
        """Have the engine ask for requests now: an idle engine asks every 5 s only, while other nodes (or the
        reaper) may have queued some since (``engine._slot.nextcall``, as Scrapy's own heartbeat does)."""
        slot = getattr(getattr(self.crawler, "engine", None), "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def acknowledge(self, *, everything: bool = False) -> None:
        """Remove from the in-flight hash the requests Scrapy is done with (``everything``: at the close)."""
        if self.recorder.lost or not self.handed:
            return
        engine = getattr(self.crawler, "engine", None)
        slot = getattr(engine, "_slot", None)
        in_progress = getattr(slot, "inprogress", None)
        if in_progress is None and not everything:
            return
        done = [r for r in self.handed if everything or r not in in_progress]  # type: ignore[operator]
        if done:
            self.server.hdel(self.queue.inflight, *(self.handed[r] for r in done))
            for request in done:
                del self.handed[request]

    def return_strays(self) -> None:
        """Requests in this node's in-flight hash that Scrapy never got (Redis died between running a pop and
        replying, and the client ran it again) go back to the queue, else the job could never end."""
        held = set(self.server.hkeys(self.queue.inflight))
        strays = held - set(self.handed.values())
        if strays:
            self.server.eval(RETURN, 2, self.queue.inflight, self.keys["queue"], *strays)
            log.warning("%d requests popped but never received are queued again", len(strays))

    def spider_idle(self, spider: Spider) -> None:
        """Close only when the job is done on every node: nothing queued, nothing in flight anywhere."""
        if self.recorder.lost:
            return
        try:
            self.acknowledge()
            if self._idle_done >= 1 and self.finish():
                return  # the job is over: the spider closes
            self._idle_done = self._idle_done + 1 if self.job_done() else 0
        except RedisError as e:
            self.recorder.give_up(str(e))
            return  # the spider closes: its requests are the reaper's
        raise DontCloseSpider

    def job_done(self) -> bool:
        if self.server.zcard(self.keys["queue"]) or self.handed:
            return False
        if self.server.get(self.keys["job"]) not in (None, self.recorder.job.encode()):
            return True  # another job began: this one ended
        nodes = [n.decode() for n in self.server.smembers(self.keys["nodes"])]
        return not any(self.server.hlen(self.keys["inflight"] + n) for n in nodes)

    def finish(self) -> bool:
        """End the job (once, whichever node comes first); True when it is over."""
        fields: list[Any] = []
        entry = {
            b"v": FORMAT,
            b"kind": b"end",
            b"job": self.recorder.job.encode(),
            b"site": self.spider.name.encode(),
            b"node": self.recorder.node.encode(),
            b"meta": b'{"reason":"finished"}',
        }
        for name, value in entry.items():
            fields += [name, value]
        k = self.keys
        outcome = self.server.eval(
            FINISH,
            5,
            k["job"],
            k["queue"],
            k["nodes"],
            k["dupefilter"],
            ITEMS_KEY,
            self.recorder.job,
            k["inflight"],
            *fields,
        )
        if outcome == 1:
            log.info("job %s of %s is done: its end is in the stream", self.recorder.job, self.spider.name)
        return outcome != 0


class NodeThrottleMiddleware:
    """Before each download: wait while the stream is over its bound (the writer is behind: each download
    adds a page and its ads), then for the site's turn, its requests spaced by its ``delay`` (seeds.yml) across
    every node through one Redis key."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        recorder = crawler.get_extension(StreamRecorder)
        if recorder is None:
            raise NotConfigured("NodeThrottleMiddleware is for crawler nodes")
        self.recorder: StreamRecorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NodeThrottleMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        await self.recorder.wait_for_room()
        delay = self.crawler.settings.getfloat("DOWNLOAD_DELAY")
        spider = self.crawler.spider
        if delay <= 0 or spider is None or self.recorder.lost:
            return
        try:
            wait = float(self.recorder.client.eval(PACE, 1, keys(spider.name)["pace"], delay))
        except RedisError:
            return  # the next entry sent finds out and gives up, or the client came back
        if wait > 0:
            await asyncio.sleep(wait)
