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
    """A parsed robots.txt for one origin: ``Disallow`` by the stdlib parser, ``Crawl-delay`` read
    here (the stdlib reads only whole seconds; ``Crawl-delay: 0.5`` is common)."""

    def __init__(self, text: str, user_agent: str) -> None:
        self.user_agent = user_agent
        self._parser = RobotFileParser()
        self._parser.parse(text.splitlines())
        self._delays = _crawl_delays(text)

    def allowed(self, url: str) -> bool:
        return self._parser.can_fetch(self.user_agent, url)

    def crawl_delay(self) -> float | None:
        """The delay of the group naming our product token, else of ``*``, else ``None``."""
        token = self.user_agent.split("/", 1)[0].strip().lower()
        for agent, delay in self._delays.items():
            if agent != "*" and agent and agent in token:
                return delay
        return self._delays.get("*")


def _crawl_delays(text: str) -> dict[str, float]:
    """``{user-agent (lower case): Crawl-delay}`` of every group that states one."""
    delays: dict[str, float] = {}
    agents: list[str] = []
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        field, value = (part.strip() for part in line.split(":", 1))
        field = field.lower()
        if field == "user-agent":
            if in_rules:  # a new group starts
                agents, in_rules = [], False
            agents.append(value.lower())
        elif field == "crawl-delay":
            in_rules = True
            try:
                delay = float(value)
            except ValueError:
                continue
            for agent in agents:
                delays.setdefault(agent, delay)
        else:
            in_rules = True
    return delays
