"""The catalogue crawler: Scrapy spiders, pipelines and middlewares, and the crawl-based checks.

``python -m crawler`` (:mod:`crawler.run`) is the subprocess :mod:`zwaudit.app.crawl` launches; it
stores ``service_item`` and ``crawled_page`` rows that the checks in :mod:`probes.catalogue` judge.
"""
