"""Checks judged from the crawl's stored snapshots (service_item, crawled_page) of a run."""
