"""Scrapy defaults of the zwaudit crawler: polite first.

Per-portal values (User-Agent, concurrency, delay, robots, AutoThrottle, JOBDIR) are set on top of
these by :meth:`crawler.config.PortalCrawl.scrapy_settings`; this module holds what never varies.
"""

from scrapy.settings.default_settings import RETRY_EXCEPTIONS as _SCRAPY_RETRY_EXCEPTIONS

BOT_NAME = "zwaudit"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_MAX_DELAY = 60.0
COOKIES_ENABLED = True
DOWNLOAD_TIMEOUT = 30
REDIRECT_ENABLED = True

# breadth-first by *clicks* (the spider sets each request's priority to -clicks), so the first
# time a page is reached is by the fewest clicks; Scrapy's own depth would also count the second
# fetch of a page through the browser, so it neither limits nor orders the crawl
DEPTH_PRIORITY = 0
DEPTH_LIMIT = 0
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]  # 429/503 go through RetryAfterMiddleware
# a rendered page whose browser died under it (a crash, an OOM kill) failed on our side, not the
# portal's: it is fetched again in the relaunched browser (crawler.browsers), never stored as an
# error page whose items would then be missing from the catalogue
RETRY_EXCEPTIONS = [*_SCRAPY_RETRY_EXCEPTIONS, "playwright._impl._errors.TargetClosedError"]
RETRY_AFTER_MAX_SECONDS = 120.0
RETRY_AFTER_TIMES = 4
RETRY_BACKOFF_BASE_SECONDS = 1.0

# process_request runs in ascending order, process_response in descending order:
# egress (50) refuses before robots.txt (100) is even asked; the redirect guard (650) sees a 3xx
# before Scrapy's redirect middleware (600); Retry-After (570) sees a 429/503 before the
# challenge middleware (560), so a 503 challenge carrying Retry-After is waited out first.
DOWNLOADER_MIDDLEWARES = {
    "crawler.network.EgressMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.network.PoliteRobotsMiddleware": 100,
    "crawler.network.RedirectGuardMiddleware": 650,
    "crawler.network.TlsVerifyMiddleware": 700,  # every response, redirect hops included
    "crawler.middlewares.RetryAfterMiddleware": 570,
    "crawler.middlewares.ChallengeMiddleware": 560,
}
# bounded work (overridden from settings.yaml ``network:`` by crawler.config)
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # Scrapy's default is 1 GiB; applies to decompression too
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
REDIRECT_MAX_TIMES = 20  # the redirect guard stops at ZWAUDIT_MAX_REDIRECTS first
ZWAUDIT_MAX_REDIRECTS = 10
ZWAUDIT_TRAP_BOUND = 10
ZWAUDIT_PAGE_TIMEOUT = 120.0  # one rendered page's whole download (crawler.runaway)
ITEM_PIPELINES = {"crawler.pipelines.StoragePipeline": 300}
PIPELINE_BATCH_SIZE = 200
PIPELINE_FLUSH_S = 5.0  # and at least this often: a kill loses at most a few seconds of rows

# the egress policy on the address actually connected to (DNS rebinding; crawler.resolver)
TWISTED_DNS_RESOLVER = "crawler.resolver.EgressResolver"  # Scrapy 2.19 name (DNS_RESOLVER warns)
DOWNLOAD_HANDLERS = {
    "http": "crawler.rendering.RenderingHandler",
    "https": "crawler.rendering.RenderingHandler",
}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_BROWSER_PROVIDER = "crawler.browsers.SharedBrowserProvider"  # one Chromium per crawl process
PLAYWRIGHT_ABORT_REQUEST = "crawler.rendering.abort_request"  # also the egress address rule
# no startup contexts: the browser starts only when a request needs it (playwright_context_kwargs)
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 2

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote-control extension serves an HTTP endpoint on localhost that runs Python
# sent with a token (written to a job file in the home directory): never in an unattended auditor
REMOTE_CONTROL_ENABLED = False
# and both are left out of the extension list, so that their modules (aiohttp, twisted.conch) are
# not even imported by a crawl process
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}
# a development-time lint that parses callback source per request; costly, and our tests cover it
WARN_ON_GENERATOR_RETURN_VALUE = False
FEED_EXPORT_ENCODING = "utf-8"
