"""The simulated provinces. Each module exposes ``ID``, ``FAMILY``, ``plan()`` and
``build_portal(runtime)``; optionally ``middlewares(runtime)``, applied to every host of the
province (a WAF, say), and ``build_dept(runtime, dept)`` / ``build_mobile(runtime)`` when its
department systems and H5 channel have markup of their own.

Families: ``sandbox-1`` — the six provinces zwaudit was first built against; ``real-structure`` —
portals written later from the structures real portals publish (issue 13), to measure accuracy on
markup nobody tuned to. Port index = position in :data:`PROVINCES` (or its ``INDEX``).

``hostile`` — sbx-xian, a province that tarpits, loops, floods and lies (issue 16); it also has
``INDEX`` (port block), ``EXTRA_SITES`` (site → http, https or ``refused``), ``extra_apps(runtime)``,
``ssl_context(site, certs, ca_dir)`` and ``truth_notes(runtime)``.
"""

from __future__ import annotations

from types import ModuleType

from sandbox.provinces import chuan, jin, min, rong, shu, xian, yue, yun, zhe, zj

PROVINCES: dict[str, ModuleType] = {m.ID: m for m in (shu, zhe, jin, yun, rong, min, yue, zj, chuan, xian)}
FAMILIES: tuple[str, ...] = ("sandbox-1", "real-structure", "hostile")


def family_of(pid: str) -> str:
    """The style family of a province."""
    family: str = PROVINCES[pid].FAMILY
    return family
