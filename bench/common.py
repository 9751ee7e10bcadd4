"""What every benchmark reports: rows of p50/p99/max (or one value), printed as one table."""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmarks reuse the tests' clients and fixtures
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Row:
    """One measured figure: a distribution (p50/p99/max of `samples`) or a single `value`."""

    benchmark: str
    case: str
    unit: str
    samples: tuple[float, ...] = field(default=(), repr=False)
    value: float | None = None
    target: str = ""

    @property
    def n(self) -> int:
        """The number of samples (1 for a single value)."""
        return len(self.samples) if self.samples else int(self.value is not None)

    def percentile(self, share: float) -> float | None:
        """The sample at `share` (0.5, 0.99, 1.0) of the sorted samples."""
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def as_json(self) -> dict[str, object]:
        """The row without its samples, for results.json."""
        return {
            "benchmark": self.benchmark, "case": self.case, "unit": self.unit, "n": self.n,
            "p50": statistics.median(self.samples) if self.samples else None,
            "p99": self.percentile(0.99), "max": max(self.samples) if self.samples else None,
            "value": self.value, "target": self.target,
        }  # fmt: skip


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User plus system CPU time a process (or only its thread `tid`) has used (OSError once it is gone)."""
    stat = Path(f"/proc/{pid}/stat") if tid is None else Path(f"/proc/{pid}/task/{tid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cores() -> int:
    """The number of cores this machine has."""
    return os.cpu_count() or 1


def format_table(rows: list[Row]) -> str:
    """The rows as a fixed-width table, headed by the machine's core count; single values sit under p50."""
    lines = [f"relevent-gw benchmarks on {cores()} cores",
             f"{'benchmark':<28} {'case':<34} {'n':>6} {'p50':>10} {'p99':>10} {'max':>10}  unit  target"]
    for row in rows:
        data = row.as_json()

        def cell(key: str, data: dict[str, object] = data) -> str:
            value = data[key]
            return f"{value:10.3f}" if isinstance(value, float) else f"{'':>10}"

        if row.value is not None and not row.samples:
            figures = f"{row.value:10.3f} {'':>10} {'':>10}"
        else:
            figures = f"{cell('p50')} {cell('p99')} {cell('max')}"
        lines.append(f"{row.benchmark:<28} {row.case:<34} {row.n:>6} {figures}  {row.unit:<4}  {row.target}")
    return "\n".join(lines)


def print_rows(rows: list[Row]) -> None:
    """Print a benchmark's rows when it runs on its own."""
    print(format_table(rows))
