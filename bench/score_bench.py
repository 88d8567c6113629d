"""Scoring 1,000 portals under the full CSTC tree, measured beside building the inputs.

    .venv/bin/python bench/score_bench.py [--portals 1000] [--repeat 5]

Prints the CPU time of one scoring of all portals and its ratio to the time of merely building
the portals' inputs (findings + manual values) and to a fixed 10-million-step Python loop, all
measured in this one run on this machine (CPU time, so other processes on a shared machine
distort it less). No database: this is the pure core the nightly job calls after reading the
findings.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from scoring.engine import score_portals
from scoring.framework import Framework, load_framework_file
from scoring.model import FindingRow, ManualValue, PortalInput
from zwaudit.paths import DEFAULT_CONFIG_DIR
from zwaudit.registry import declarations, declared_codes

TARGETS = {  # targets per portal per probe, roughly a real audit's sample sizes
    "search_accuracy": 10,
    "auth_https": 1,
    "name_masking": 1,
    "duplicate_login": 12,
    "data_same_source": 40,
    "guide_completeness": 30,
    "cancelled_items": 10,
    "click_depth": 10,
    "link_health": 20,
}
STATUSES = ["pass"] * 14 + ["fail"] * 4 + ["error", "not_applicable"]


def build_inputs(framework: Framework, portals: int, seed: int = 7) -> list[PortalInput]:
    rng = random.Random(seed)
    manual_leaves = [(n.id, n.spec.method == "binary") for n in framework.manual_leaves()]
    out: list[PortalInput] = []
    next_id = 1
    for p in range(portals):
        rows: list[FindingRow] = []
        for probe, n in TARGETS.items():
            for t in range(n):
                target = (
                    f"I{t}@{'mobile' if t % 2 else 'dept:d' + str(t % 5)}"
                    if probe == "data_same_source"
                    else f"t{t}"
                )
                status = rng.choice(STATUSES)
                code = (
                    rng.choice(sorted(declared_codes(probe)))
                    if status == "fail"
                    else ("timeout" if status == "error" else None)
                )
                rows.append(FindingRow(next_id, probe, target, status, code))
                next_id += 1
        manual = {
            leaf: ManualValue(i, float(rng.randint(0, 1)) if binary else rng.uniform(0, 100))
            for i, (leaf, binary) in enumerate(manual_leaves)
            if rng.random() < 0.8  # some leaves left missing on purpose
        }
        out.append(PortalInput(f"p{p:04d}", rows, manual))
    return out


def reference_loop() -> int:
    """A fixed amount of plain Python work: the machine's speed, measured in the same run."""
    total = 0
    for i in range(10_000_000):
        total += i
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    framework = load_framework_file(
        DEFAULT_CONFIG_DIR / "frameworks" / "cstc2021.yaml",
        lambda p: declared_codes(p) if declarations().check(p) else None,
    )
    build_times: list[float] = []
    score_times: list[float] = []
    findings = 0
    for _ in range(args.repeat):
        start = time.process_time()
        inputs = build_inputs(framework, args.portals)
        build_times.append(time.process_time() - start)
        start = time.process_time()
        scores = score_portals(framework, inputs)
        score_times.append(time.process_time() - start)
        findings = sum(len(i.findings) for i in inputs)
        assert len(scores) == args.portals
    start = time.process_time()
    reference_loop()
    loop = time.process_time() - start
    build = statistics.median(build_times)
    score = statistics.median(score_times)
    print(
        f"{args.portals} portals × {len(framework.nodes)} indicators ({findings} findings), median of {args.repeat}:"
    )
    print(f"  build inputs : {build * 1000:8.1f} ms")
    print(f"  score        : {score * 1000:8.1f} ms  ({score / build:.2f}× building the inputs)")
    print(
        f"  reference    : {loop * 1000:8.1f} ms  (a 10-million-step Python loop; score = {score / loop:.2f}× it)"
    )


if __name__ == "__main__":
    main()
