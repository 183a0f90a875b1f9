"""Scrapy settings for trawler: components are switched on here by name and order.

``crawler.runner.crawl_settings`` layers a job's own values (seeds, limits, routes, database)
on top of these.
"""

BOT_NAME = "trawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# A police crawler reads what any visitor can read; robots.txt is recorded, not obeyed.
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPERROR_ALLOW_ALL = True  # 404s and 500s are pages with a status, not silent drops
RETRY_TIMES = 1
REDIRECT_MAX_TIMES = 5
DOWNLOAD_TIMEOUT = 20
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts this many tasks for every response's output; a page yields one item and its
# links, so the default 100 spends more time creating tasks than handling the output.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0
# Scrapy's downloader/* byte and status counters cost header sizing on every request and
# response; trawler reads none of them (its own trawler/* stats count pages and errors).
DOWNLOADER_STATS = False
STATS_CLASS = "crawler.stats.CrawlStats"  # the same stats, without a wrapper on every access
DEPTH_PRIORITY = 1  # breadth first; the spider applies it, and per-seed depth limits itself
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
LOG_LEVEL = "WARNING"

DOWNLOAD_HANDLERS = {
    "http": "crawler.download.RoutingDownloadHandler",
    "https": "crawler.download.RoutingDownloadHandler",
}

SPIDER_MIDDLEWARES = {
    # A development aid that checks every request for meta keys copied from a response; the
    # spiders build each request's meta afresh, so it could never warn.
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,  # the spiders prioritise by depth
}

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.refresh.MetaRefreshMiddleware": 580,  # Scrapy's place for it
    "crawler.middlewares.routing.RoutingMiddleware": 700,
    # Scrapy's HttpProxyMiddleware (750) applies the proxy environment variables.
    "crawler.middlewares.safety.SafetyMiddleware": 760,
}

ITEM_PIPELINES = {
    "crawler.pipelines.entities.EntitiesPipeline": 200,
    "crawler.pipelines.classify.ClassifyPipeline": 300,
    "crawler.forums.pipeline.PostClassifyPipeline": 310,
    "crawler.pipelines.store.StorePipeline": 800,
    "crawler.pipelines.evidence.EvidencePipeline": 900,
}

EXTENSIONS = {
    "crawler.heartbeat.JobHeartbeat": 500,  # live numbers in the job row; pause / stop
}
# A crawl that stores no page for this long although work is pending has stalled: it ends
# (job "failed", resumable) instead of hanging silently.
CLOSESPIDER_TIMEOUT_NO_ITEM = 300
TRAWLER_HEARTBEAT = 2.0
