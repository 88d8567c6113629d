"""DNS rebinding (issue 16): the crawler's resolver checks the address a download connects to.

A fake upstream resolver answers a public address at the middleware's check and a private one at
connection time; the resolver refuses the second, and the download's error is ``egress_refused``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from scrapy import Request
from scrapy.resolver import dnscache
from twisted.internet import defer
from twisted.internet.base import ThreadedResolver
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from crawler import network, resolver
from crawler.resolver import EgressResolver, connect_refusal
from crawler.rows import error_kind
from zwaudit.net.egress import EgressPolicy


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> EgressPolicy:
    p = EgressPolicy.build(["https://www.portal.example/", "http://127.0.0.1:8080/"])
    monkeypatch.setattr(network, "_POLICIES", [p])
    monkeypatch.setattr(resolver, "REFUSED", {})
    dnscache.limit = 0
    return p


def _resolve(answers: list[str], monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    """Resolve ``name`` through :class:`EgressResolver` over a fake upstream giving ``answers``."""

    def upstream(self: Any, host: str, timeout: Any = ()) -> defer.Deferred[str]:
        return defer.succeed(answers.pop(0))

    monkeypatch.setattr(ThreadedResolver, "getHostByName", upstream)
    out: list[Any] = []
    EgressResolver(reactor=None, cache_size=0, timeout=5).getHostByName(name).addBoth(out.append)  # type: ignore[arg-type]
    return out[0]


def test_a_name_rebound_to_a_private_address_is_refused_at_connection_time(
    policy: EgressPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = ["93.184.216.34", "127.0.0.1"]  # public at the check, loopback at the connection
    assert _resolve(answers, monkeypatch, "rebind.portal.example") == "93.184.216.34"
    result = _resolve(answers, monkeypatch, "rebind.portal.example")
    assert isinstance(result, Failure) and result.check(DNSLookupError)
    assert "127.0.0.1" in resolver.REFUSED["rebind.portal.example"]

    # the download's error, as Twisted reports a name without usable addresses: egress_refused
    failure = Failure(DNSLookupError("no results for hostname lookup: rebind.portal.example"))
    failure.request = Request("https://rebind.portal.example/page")  # type: ignore[attr-defined]
    kind, message = error_kind(failure)
    assert kind == "egress_refused" and "loopback" in message


def test_own_hosts_and_public_addresses_pass(policy: EgressPolicy) -> None:
    assert connect_refusal("www.portal.example", "93.184.216.34", [policy]) is None
    assert connect_refusal("127.0.0.1", "127.0.0.1", [policy]) is None  # the profile's own origin
    assert connect_refusal("meta.portal.example", "169.254.169.254", [policy]) is not None
    assert connect_refusal("anything", "10.0.0.1", []) is None  # no policy: nothing to apply
    failure = Failure(DNSLookupError("no results"))
    failure.request = Request("https://nowhere.example/")  # type: ignore[attr-defined]
    assert error_kind(failure)[0] == "dns"  # an ordinary resolution failure stays dns


INSTALLED = """
import warnings
from scrapy.exceptions import ScrapyDeprecationWarning
warnings.simplefilter("error", ScrapyDeprecationWarning)  # a setting under its old name warns
from scrapy.crawler import CrawlerProcess
from crawler.resolver import EgressResolver
from crawler.run import base_settings
installed = []
EgressResolver.install_on_reactor = lambda self: installed.append(type(self).__name__)
CrawlerProcess(base_settings())._setup_reactor(install_signal_handlers=False)
print(installed)
"""


def test_the_crawler_uses_it() -> None:
    """Scrapy installs it on the reactor from the crawler's settings, under the name Scrapy 2.19
    reads without a deprecation warning (in a subprocess: the reactor is installed once)."""
    done = subprocess.run([sys.executable, "-c", INSTALLED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['EgressResolver']"
