"""The simulated provinces. Each module exposes ``ID``, ``FAMILY``, ``plan()`` and
``build_portal(runtime)``; optionally ``middlewares(runtime)``, applied to every host of the
province (a WAF, say), and ``build_dept(runtime, dept)`` / ``build_mobile(runtime)`` when its
department systems and H5 channel have markup of their own.

Families: ``sandbox-1`` — the six provinces zwaudit was first built against; ``real-structure`` —
portals written later from the structures real portals publish (issue 13), to measure accuracy on
markup nobody tuned to. Port index = position in :data:`PROVINCES` (index 9 is reserved).
"""

from __future__ import annotations

from types import ModuleType

from sandbox.provinces import chuan, jin, min, rong, shu, yue, yun, zhe, zj

PROVINCES: dict[str, ModuleType] = {m.ID: m for m in (shu, zhe, jin, yun, rong, min, yue, zj, chuan)}
FAMILIES: tuple[str, ...] = ("sandbox-1", "real-structure")


def family_of(pid: str) -> str:
    """The style family of a province ."""
    family: str = PROVINCES[pid].FAMILY
    return family
