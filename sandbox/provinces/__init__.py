"""The simulated provinces. Each module exposes ``ID``, ``plan()`` and ``build_portal(runtime)``;
optionally ``middlewares(runtime)``, applied to every host of the province (a WAF, say)."""

from __future__ import annotations

from types import ModuleType

from sandbox.provinces import jin, min, rong, shu, yun, zhe

PROVINCES: dict[str, ModuleType] = {m.ID: m for m in (shu, zhe, jin, yun, rong, min)}
