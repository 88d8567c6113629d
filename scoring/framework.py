"""Loading and validating an indicator framework into an immutable tree the engine walks.

Validation fails fast with one line naming the file and the key: unknown probe or reason code,
explicit weights that do not add up, a cycle, a node with two parents or none, a manual leaf with
an automatic method. The probe vocabulary is the check registry (``config/checks.yaml``), so a
framework cannot refer to a check or a code that does not exist.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from scoring.schema import AUTOMATIC_ONLY, ID_PATTERN, MANUAL_ONLY, BandSet, FrameworkSpec, NodeSpec
from zwaudit.config import Config
from zwaudit.config.yamlfile import read_yaml, validation_error
from zwaudit.errors import ConfigError, ZwauditError

WEIGHT_TOLERANCE = 1e-6
ID_RE = re.compile(ID_PATTERN)

#: probe name → its closed set of reason codes (``None``: the probe is not registered)
CodeLookup = Callable[[str], frozenset[str] | None]


@dataclass(frozen=True)
class Node:
    """A validated indicator with its place in the tree."""

    id: str
    spec: NodeSpec
    parent: str | None
    level: int  # the root is level 0
    codes: frozenset[str] | None  # the reason codes a leaf counts; None = all
    target_re: re.Pattern[str] | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_leaf(self) -> bool:
        return not self.spec.children


@dataclass(frozen=True)
class Framework:
    """A validated framework: nodes by id, and an evaluation order with children first."""

    id: str
    spec: FrameworkSpec
    source: Path
    nodes: Mapping[str, Node]
    order: tuple[str, ...]  # post-order: every child before its parent

    @property
    def root(self) -> Node:
        return self.nodes[self.spec.root]

    @property
    def bands(self) -> list[BandSet]:
        return self.spec.bands

    def children(self, node_id: str) -> list[Node]:
        return [self.nodes[c] for c in self.nodes[node_id].spec.children]

    def at_level(self, level: int) -> list[Node]:
        """Nodes of one level in tree order (level 1 = first-level indicators)."""
        return [self.nodes[i] for i in self.preorder() if self.nodes[i].level == level]

    def preorder(self) -> list[str]:
        out: list[str] = []
        stack = [self.spec.root]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self.nodes[current].spec.children))
        return out

    def manual_leaves(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_leaf and n.spec.manual]

    def resolve(self, ref: str) -> Node | None:
        """A node by id, or by name when that name is unique in the framework."""
        if ref in self.nodes:
            return self.nodes[ref]
        named = [n for n in self.nodes.values() if n.name == ref]
        return named[0] if len(named) == 1 else None


def registry_codes(config: Config) -> CodeLookup:
    """Codes of a registered check, as ``config/checks.yaml`` declares them (a check the registry
    only names, ``name: "module:Class"``, is imported for its class's ``codes``)."""

    def lookup(probe: str) -> frozenset[str] | None:
        if probe not in config.check_registry:
            return None
        try:
            return config.check_codes(probe)
        except ZwauditError:
            raise
        except Exception as exc:  # a check module that fails to import is a config problem
            raise ConfigError(config.data_file("checks.yaml"), probe, f"cannot load: {exc}") from exc

    return lookup


def load_framework_file(path: Path, codes_of: CodeLookup) -> Framework:
    """Parse and validate one framework file."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(path, "", "expected a mapping with id, name, root and indicators")
    try:
        spec = FrameworkSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, exc) from exc
    return build_framework(spec, path, codes_of)


def build_framework(spec: FrameworkSpec, path: Path, codes_of: CodeLookup) -> Framework:
    """Check the structure and the references of a parsed framework."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(path, key, message)

    nodes = spec.indicators
    for node_id in nodes:
        if not ID_RE.match(node_id):
            raise fail(
                f"indicators.{node_id}", "an indicator id is lower-case ascii, digits, '.', '_' or '-'"
            )
    if spec.root not in nodes:
        raise fail("root", f"unknown indicator {spec.root!r}")
    parent: dict[str, str] = {}
    for node_id, node in nodes.items():
        for i, child in enumerate(node.children):
            key = f"indicators.{node_id}.children[{i}]"
            if child not in nodes:
                raise fail(key, f"unknown indicator {child!r}")
            if child in parent:
                raise fail(key, f"{child!r} already has the parent {parent[child]!r}")
            parent[child] = node_id
    _check_cycles(nodes, fail)
    if spec.root in parent:
        raise fail(f"indicators.{spec.root}", "the root cannot be the child of another indicator")
    levels = _levels(spec.root, nodes)
    for node_id in nodes:
        if node_id not in levels:
            raise fail(f"indicators.{node_id}", "not reachable from the root (no parent)")
    built: dict[str, Node] = {}
    for node_id, node in nodes.items():
        key = f"indicators.{node_id}"
        codes = _check_node(node_id, node, spec, parent, fail, codes_of)
        pattern = re.compile(fnmatch.translate(node.targets)) if node.targets else None
        built[node_id] = Node(node_id, node, parent.get(node_id), levels[node_id], codes, pattern)
        if node.veto and node.veto.scope and not _is_ancestor(node.veto.scope, node_id, parent):
            raise fail(f"{key}.veto.scope", f"{node.veto.scope!r} is not an ancestor of {node_id!r}")
    _check_bands(spec, fail)
    order = _postorder(spec.root, nodes)
    return Framework(spec.id, spec, path, built, tuple(order))


def _check_cycles(nodes: Mapping[str, NodeSpec], fail: Callable[[str, str], ConfigError]) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in nodes:
        if state.get(start):
            continue
        path = [start]
        iters = [iter(nodes[start].children)]
        state[start] = 1
        while iters:
            child = next(iters[-1], None)
            if child is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(child) == 1:
                loop = [*path[path.index(child) :], child]
                raise fail(f"indicators.{path[-1]}.children", f"cycle: {' -> '.join(loop)}")
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                iters.append(iter(nodes[child].children))


def _levels(root: str, nodes: Mapping[str, NodeSpec]) -> dict[str, int]:
    levels = {root: 0}
    stack = [root]
    while stack:
        current = stack.pop()
        for child in nodes[current].children:
            levels[child] = levels[current] + 1
            stack.append(child)
    return levels


def _postorder(root: str, nodes: Mapping[str, NodeSpec]) -> list[str]:
    out: list[str] = []
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        current, expanded = stack.pop()
        if expanded:
            out.append(current)
            continue
        stack.append((current, True))
        stack.extend((c, False) for c in reversed(nodes[current].children))
    return out


def _is_ancestor(candidate: str, node_id: str, parent: Mapping[str, str]) -> bool:
    current = parent.get(node_id)
    while current is not None:
        if current == candidate:
            return True
        current = parent.get(current)
    return False


def _check_node(
    node_id: str,
    node: NodeSpec,
    spec: FrameworkSpec,
    parent: Mapping[str, str],
    fail: Callable[[str, str], ConfigError],
    codes_of: CodeLookup,
) -> frozenset[str] | None:
    key = f"indicators.{node_id}"
    my_parent = spec.indicators[parent[node_id]] if node_id in parent else None
    if my_parent is not None:
        _check_as_child(node, my_parent, key, fail)
    if node.children:
        _check_parent(node_id, node, spec, key, fail)
        return None
    return _check_leaf(node, key, fail, codes_of)


def _check_as_child(
    node: NodeSpec, parent: NodeSpec, key: str, fail: Callable[[str, str], ConfigError]
) -> None:
    if node.role == "bonus":
        if parent.bonus is None:
            raise fail(f"{key}.role", "a bonus indicator needs a parent with a 'bonus' rule")
        if node.points is None:
            raise fail(f"{key}.points", "a bonus indicator needs its maximum points")
        if node.weight is not None:
            raise fail(f"{key}.weight", "a bonus indicator has points, not a weight")
        return
    if node.points is not None:
        raise fail(f"{key}.points", "points are only for bonus indicators")
    if parent.weighting == "equal" and node.weight is not None:
        raise fail(f"{key}.weight", "the parent uses equal weights; remove the weight or make it explicit")
    if parent.weighting == "explicit" and node.weight is None:
        raise fail(f"{key}.weight", "required key is missing (the parent uses explicit weights)")


def _check_parent(
    node_id: str, node: NodeSpec, spec: FrameworkSpec, key: str, fail: Callable[[str, str], ConfigError]
) -> None:
    for attr in ("method", "deduction", "veto", "target", "targets", "codes"):
        if getattr(node, attr) is not None:
            raise fail(f"{key}.{attr}", "only a leaf (an indicator without children) takes this key")
    if node.probes or node.manual:
        raise fail(f"{key}.{'probes' if node.probes else 'manual'}", "only a leaf takes this key")
    normal = [spec.indicators[c] for c in node.children if spec.indicators[c].role == "normal"]
    if not normal:
        raise fail(f"{key}.children", "needs at least one indicator that is not a bonus")
    if node.bonus is not None and len(normal) == len(node.children):
        raise fail(f"{key}.bonus", "a bonus rule needs at least one child with role: bonus")
    if node.weighting == "explicit":
        total = sum(c.weight or 0.0 for c in normal)
        if abs(total - node.weights_total) > WEIGHT_TOLERANCE * max(1.0, node.weights_total):
            raise fail(
                f"{key}.children",
                f"weights of {node_id!r}'s children add up to {total:g}, not {node.weights_total:g}",
            )


def _check_leaf(
    node: NodeSpec, key: str, fail: Callable[[str, str], ConfigError], codes_of: CodeLookup
) -> frozenset[str] | None:
    if node.method is None:
        raise fail(f"{key}.method", "a leaf needs a method (binary, ratio, count_target, benchmark, …)")
    if node.bonus is not None:
        raise fail(f"{key}.bonus", "only a parent takes a bonus rule")
    if node.method == "count_target" and node.target is None:
        raise fail(f"{key}.target", "required key is missing (count_target)")
    if node.method != "count_target" and node.target is not None:
        raise fail(f"{key}.target", "only the count_target method takes a target")
    if (node.method == "deduction") != (node.deduction is not None):
        raise fail(f"{key}.deduction", "the deduction method and the deduction rule go together")
    if node.manual:
        if node.method in AUTOMATIC_ONLY:
            raise fail(f"{key}.method", f"a manual leaf cannot use the automatic method {node.method!r}")
        for attr in ("probes", "codes", "targets", "veto"):
            if getattr(node, attr):
                raise fail(f"{key}.{attr}", "a manual leaf is fed by an auditor, not by probes")
        return None
    if node.method in MANUAL_ONLY:
        raise fail(f"{key}.method", f"{node.method!r} is for manual leaves (manual: true)")
    if not node.probes:
        raise fail(f"{key}.probes", "an automatic leaf needs the probes that feed it (or manual: true)")
    known: set[str] = set()
    for i, probe in enumerate(node.probes):
        codes = codes_of(probe)
        if codes is None:
            raise fail(f"{key}.probes[{i}]", f"unknown probe {probe!r} (not in the check registry)")
        known |= codes
    for attr, listed in (
        ("codes", node.codes or []),
        ("veto.codes", node.veto.codes if node.veto else []),
        ("deduction.per_code", list(node.deduction.per_code) if node.deduction else []),
    ):
        for code in listed:
            if code not in known:
                raise fail(f"{key}.{attr}", f"unknown reason code {code!r} of {', '.join(node.probes)}")
    return frozenset(node.codes) if node.codes is not None else None


def _check_bands(spec: FrameworkSpec, fail: Callable[[str, str], ConfigError]) -> None:
    for i, band_set in enumerate(spec.bands):
        key = f"bands[{i}].limits"
        previous: float | None = None
        for j, limit in enumerate(band_set.limits):
            last = j == len(band_set.limits) - 1
            if limit.min is None and not last:
                raise fail(f"{key}[{j}].min", "required key is missing (only the last band has no min)")
            if limit.min is not None and previous is not None and limit.min >= previous:
                raise fail(f"{key}[{j}].min", "band limits must decrease from the first band to the last")
            previous = limit.min


def band_of(band_set: BandSet, value: float) -> str:
    """The band a value falls in (the last band catches everything below)."""
    for limit in band_set.limits:
        if limit.min is None or value > limit.min or (limit.inclusive and value == limit.min):
            return limit.band
    return band_set.limits[-1].band


def load_framework(config: Config, framework_id: str, codes_of: CodeLookup | None = None) -> Framework:
    """Load ``frameworks/<id>.yaml`` along the config search path and validate it."""
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", framework_id):
        raise ConfigError(config.directory / "frameworks", framework_id, "not a framework id")
    path = config.data_file(f"frameworks/{framework_id}.yaml")
    framework = load_framework_file(path, codes_of or registry_codes(config))
    if framework.id != framework_id:
        raise ConfigError(path, "id", f"is {framework.id!r}, but the file is named {framework_id}.yaml")
    return framework


def available_frameworks(config: Config) -> list[str]:
    """Framework ids found along the config search path."""
    found: set[str] = set()
    for base in config.search_path:
        found.update(p.stem for p in (base / "frameworks").glob("*.yaml"))
    return sorted(found)
