"""The simulated provinces. Each module exposes ``ID``, ``plan()`` and ``build_portal(runtime)``;
optionally ``middlewares(runtime)``, applied to every host of the province (a WAF, say), and —
for provinces with hosts of their own — ``INDEX`` (port block), ``EXTRA_SITES`` (site → http, https
or ``refused``), ``extra_apps(runtime)``, ``ssl_context(site, certs, ca_dir)`` and
``truth_notes(runtime)`` (sbx-xian)."""

from __future__ import annotations

from types import ModuleType

from sandbox.provinces import jin, min, rong, shu, xian, yun, zhe

PROVINCES: dict[str, ModuleType] = {m.ID: m for m in (shu, zhe, jin, yun, rong, min, xian)}
