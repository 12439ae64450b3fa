"""Downloader middlewares."""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.extensions import RunRecorder

__all__ = ["WarcArchiveMiddleware"]


class WarcArchiveMiddleware:
    """Archive every response in the run's WARC file and index it in ``pages``.

    The page's place in the archive travels with the request (``meta["adclear_page"]``) so that the item
    pipeline can link the ad to its evidence.
    """

    def __init__(self, recorder: RunRecorder):
        self.recorder = recorder

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        recorder = crawler.get_extension(RunRecorder)
        if recorder is None:
            from scrapy.exceptions import NotConfigured

            raise NotConfigured("WarcArchiveMiddleware needs the RunRecorder extension")
        return cls(recorder)

    def process_response(self, request: Request, response: Response) -> Response:
        page = self.recorder.record_page(request, response)
        if page is not None:
            request.meta["adclear_page"] = page
        return response
