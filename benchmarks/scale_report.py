"""What `benchmarks.scale` prints: one row per operation and deployment with our figure, the
reference's and the floor's as ratios, each target MET or MISSED, and how every figure grew
with the data, so a run reads as a verdict and not as a list of timings."""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass


@dataclass
class Row:
    size: int
    where: str  # e.g. "edge+sqlite"
    op: str
    ours: float | None
    ref: float | None = None
    floor: float | None = None
    floor_what: str = ""
    target: str = ""  # "ref>=10x", "floor<=1.5x", ...
    unit: str = "s"
    note: str = ""

    @property
    def speedup(self) -> float | None:
        return self.ref / self.ours if self.ref and self.ours else None

    @property
    def over_floor(self) -> float | None:
        return self.ours / self.floor if self.floor and self.ours else None

    @property
    def met(self) -> str:
        if not self.target:
            return ""
        ok = True
        for part in self.target.split(","):
            m = re.fullmatch(r"(ref|floor|abs)([<>]=)([\d.]+)(x|s|MiB)", part.strip())
            assert m, part
            value = {"ref": self.speedup, "floor": self.over_floor, "abs": self.ours}[m[1]]
            if value is None:
                return "?"
            limit = float(m[3]) * (2**20 if m[4] == "MiB" else 1)
            ok &= value >= limit if m[2] == ">=" else value <= limit
        return "MET" if ok else "MISSED"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    if unit == "MiB":
        return f"{value / 2**20:,.2f} MiB"
    return f"{value:,.1f} {unit}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def print_table(rows: list[Row]) -> None:
    header = (
        "size",
        "deployment",
        "operation",
        "ours",
        "reference",
        "floor",
        "floor is",
        "ref/ours",
        "ours/floor",
        "target",
        "",
    )
    lines = [
        (
            f"{r.size:,}",
            r.where,
            r.op,
            fmt(r.ours, r.unit),
            fmt(r.ref, r.unit),
            fmt(r.floor, r.unit),
            r.floor_what,
            ratio(r.speedup),
            ratio(r.over_floor),
            r.target,
            r.met,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    right = {0, 3, 4, 5, 7, 8}

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(render(header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(render(line))
    notes = [r for r in rows if r.note]
    if notes:
        print()
        for r in notes:
            print(f"  {r.size:,} {r.where} {r.op}: {r.note}")


def print_growth(rows: list[Row], small: int, large: int) -> None:
    by = {(r.where, r.op, r.size): r for r in rows}
    pairs = [
        (by[(w, o, small)], by[(w, o, large)])
        for (w, o, s) in by
        if s == small and (w, o, large) in by
    ]
    if not pairs:
        return
    print(f"\nGrowth from {small:,} to {large:,} vectors ({large // small}x the data):")
    print(f"  {'deployment':<14} {'operation':<34} {'ours':>8} {'reference':>10} {'floor':>8}")
    for a, b in pairs:

        def g(x: float | None, y: float | None) -> str:
            return ratio(y / x) if x and y else "-"

        print(
            f"  {a.where:<14} {a.op:<34} {g(a.ours, b.ours):>8} {g(a.ref, b.ref):>10} "
            f"{g(a.floor, b.floor):>8}"
        )


def print_report(
    rows: list[Row], builds: list[str], throughput: list[str], tui: list[str], seconds: float
) -> None:
    """The whole run's report, printed once at the end so that the progress lines the
    measurements print do not break up its tables."""
    print(
        f"\nvectorctl scale benchmark ({seconds:.0f} s; medians of "
        f"repetitions; {os.cpu_count()} CPUs)"
    )
    print("deployments: " + "; ".join(builds))
    print()
    print_table(rows)
    for small, large in itertools.pairwise(sorted({r.size for r in rows})):
        print_growth(rows, small, large)
    print(
        "\n4. Retrain / pipeline throughput vs raw encode_image "
        "(benchmarks/embedding_throughput.py):"
    )
    for line in throughput:
        print("  " + line)
    print("\n5. TUI tree first paint and keypress latency:")
    for line in tui:
        print("  " + line)
