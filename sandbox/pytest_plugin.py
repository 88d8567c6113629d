"""Pytest fixtures that start the sandbox on loopback once per test session (owned by the sandbox).

``sandbox``: every province on ephemeral ports in a temporary directory, stopped at session end.
Use ``sandbox.config_dir`` as the ``--config`` of an audit, ``sandbox.urls[portal_id][site]`` for
addresses and ``sandbox.ground_truth(portal_id)`` for what the auditor should find.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.server import Sandbox, start


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The running sandbox (all provinces, ephemeral ports, a private directory)."""
    running = start(base_port=0, directory=tmp_path_factory.mktemp("sandbox"))
    try:
        yield running
    finally:
        running.stop()
