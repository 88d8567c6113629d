"""How zwaudit behaves on the network, shared by the crawler and the browser probes.

One place for the rules both sides must apply alike: where zwaudit may go (:mod:`.egress`), how
long a server may make it wait (:mod:`.retry_after`), what an anti-bot challenge is
(:mod:`.challenge`), which URLs are the same page or a trap (:mod:`.traps`) and what robots.txt
asks (:mod:`.robots`). Pure logic and stdlib only: no Scrapy, no Playwright.
"""
