"""Scrapy settings for adclear's crawler; per-site values (delay, concurrency, page limit) come from seeds.yml.

``adclear crawl`` and ``scrapy crawl SITE`` both use this module. The adclear-specific settings are
prefixed ``ADCLEAR_`` and documented in docs/operations.md. These are defaults only: ``adclear crawl`` sets
the database, seeds.yml, the rule packs and what its environment says (``adclear.config``) on top;
``scrapy crawl SITE -s NAME=VALUE`` sets any of them.
"""

BOT_NAME = "adclear"

SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# Spiders are the sites of seeds.yml: `scrapy list` prints them, `scrapy crawl demo-classifieds` crawls one.
SPIDER_LOADER_CLASS = "crawler.spiderloader.SeedsSpiderLoader"

# Where adclear keeps its data (the WARC files go beside the database, in warc/).
ADCLEAR_DB = "data/adclear.db"
ADCLEAR_SEEDS = "seeds.yml"
# Rule packs of the classifier; empty means the bundled classifier/rules.
ADCLEAR_RULES = ""

# Politeness. The User-Agent is completed with the operator's name and contact from seeds.yml.
# Disk queues and seen requests under JOBDIR that survive a full disk (crawler/jobdir.py)
SCHEDULER = "crawler.jobdir.DiskSafeScheduler"
DUPEFILTER_CLASS = "crawler.jobdir.DiskSafeDupeFilter"

ROBOTSTXT_OBEY = True
USER_AGENT = "adclear/0.1 (+https://github.com/adclear/adclear)"
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output (100 by default), whatever it
# yields; our pipelines are synchronous, so 8 is plenty: +25% pages/min with the full pipeline, +14% without
# (benchmarks/bench_crawl.py synthetic site, 2 cores; docs/performance.md).
CONCURRENT_ITEMS = 8
# The crawl's writes are committed together every this many seconds (crawler/store.py: group commit): a
# commit per ad cost more than storing it. A kill -9 loses at most this much; the rerun fetches it again.
ADCLEAR_GROUP_COMMIT_SECONDS = 0.5
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
# A page (received or rendered) is parsed only within these limits, off the event loop; a page over one is a
# too_complex error (crawler/pagecheck.py). Real pages: a few thousand elements, 20 levels, 10 attributes.
ADCLEAR_PAGE_MAX_ELEMENTS = 100_000
ADCLEAR_PAGE_MAX_ATTRIBUTES = 1_000  # per element: libxml2's time grows with the square of this
ADCLEAR_PAGE_MAX_DEPTH = 256
ADCLEAR_PARSE_SECONDS = 10.0
RETRY_TIMES = 2
# Retries wait: Retry-After when the server says (up to ADCLEAR_RETRY_AFTER_MAX s), else 1 s, 2 s, 4 s … (max 60 s)
ADCLEAR_RETRY_BACKOFF = 1.0
ADCLEAR_RETRY_BACKOFF_MAX = 60.0
ADCLEAR_RETRY_AFTER_MAX = 120.0
# AutoThrottle adapts the delay to the site's latency, never below the site's `delay` (seeds.yml)
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_MAX_DELAY = 60.0
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# Names are resolved once, by the resolver the network policy checked (crawler/resolver.py): Twisted connects
# to the addresses that were checked. ADCLEAR_RESOLVER: an import path to a function host -> [addresses].
TWISTED_DNS_RESOLVER = "crawler.resolver.PinnedResolver"
ADCLEAR_RESOLVER = "crawler.resolver.system_resolve"

# The asyncio reactor (Scrapy's default): scrapy-playwright needs it, and another one fails every download
# while exiting 0.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

DOWNLOADER_MIDDLEWARES = {
    # One network policy for every request (crawler/netpolicy.py), first of all, and for every redirect: it
    # records what it refuses, where Scrapy's own offsite filter dropped redirects without a word.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.NetworkPolicyMiddleware": 50,
    # After decompression (590) so that the archive holds the page as served, before retries (550) so that
    # a 5xx that is retried is archived too.
    "crawler.middlewares.WarcArchiveMiddleware": 580,
    # A declared charset that lies (GBK bytes sent as UTF-8) is corrected before anyone reads the text.
    "crawler.middlewares.CharsetMiddleware": 575,
    # Then the page is measured and parsed off the event loop, within limits (crawler/pagecheck.py).
    "crawler.pagecheck.PageCheckMiddleware": 570,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.retry.BackoffRetryMiddleware": 550,
}
EXTENSIONS = {
    "crawler.extensions.RunRecorder": 100,
}
ITEM_PIPELINES = {
    "crawler.pipelines.CleanTextPipeline": 100,
    "crawler.pipelines.ClassifyPipeline": 500,
    "crawler.pipelines.StorePipeline": 800,
}

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

# Scrapy 2.19 starts a remote-control HTTP server on a random port for every crawl: nobody should be able to
# drive our crawler over the network.
REMOTE_CONTROL_ENABLED = False

# Chromium, for sites of kind `social` (rendered through scrapy-playwright; crawler/browser.py sets the
# PLAYWRIGHT_* settings from these for those spiders only). Debian's package; never `playwright install`.
ADCLEAR_CHROMIUM = "/usr/bin/chromium"
ADCLEAR_CHROMIUM_ARGS: list[str] = []  # added to crawler.browser.LAUNCH_ARGS
ADCLEAR_BROWSER_CONTEXTS = 1  # PLAYWRIGHT_MAX_CONTEXTS
ADCLEAR_BROWSER_PAGES = 4  # pages open at once per context
ADCLEAR_BROWSER_PAGE_USES = 10  # then a page is closed
ADCLEAR_BROWSER_MEMORY_MB = 3072  # crawler + browser; then stop
