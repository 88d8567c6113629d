"""What robots.txt asks of zwaudit, read once per origin: ``Disallow`` and ``Crawl-delay``.

The crawler reads robots.txt through Scrapy (which applies ``Disallow`` but not ``Crawl-delay``);
:func:`crawl_delay_for` turns the delay a robots.txt asks for into the wait zwaudit keeps between
two requests to that host, never shorter than the configured politeness delay.
"""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

MAX_CRAWL_DELAY_S = 60.0  # a longer Crawl-delay is honoured as 60 s (and logged by the caller)


def crawl_delay_for(asked: float | None, configured: float) -> float:
    """The delay between two requests to one host: the larger of robots.txt's and ours."""
    if asked is None or asked <= 0:
        return configured
    return max(configured, min(float(asked), MAX_CRAWL_DELAY_S))


class Robots:
    """A parsed robots.txt (stdlib parser) for one origin; used by the browser side."""

    def __init__(self, text: str, user_agent: str) -> None:
        self.user_agent = user_agent
        self._parser = RobotFileParser()
        self._parser.parse(text.splitlines())

    def allowed(self, url: str) -> bool:
        return self._parser.can_fetch(self.user_agent, url)

    def crawl_delay(self) -> float | None:
        value = self._parser.crawl_delay(self.user_agent)
        return None if value is None else float(value)
