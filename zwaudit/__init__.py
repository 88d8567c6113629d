"""zwaudit: an automated auditor of Chinese government online-service portals (政务服务网).

The core package holds what every part shares: the outcome vocabulary, the check contract,
configuration, storage, evidence handling and the command line. ``crawler``, ``probes`` and
``scoring`` depend on this package and never on each other except through stored data.
"""

__version__ = "0.1.0"
