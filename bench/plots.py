"""PNG plots of benchmark rows: lateness histograms, and resources against site size."""

from __future__ import annotations

import re
from pathlib import Path

from bench.common import Row


def write_plots(rows: list[Row], folder: Path) -> list[Path]:
    """Write the plots the rows allow; none (with a hint) when matplotlib is not installed."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional: only `bench/run` draws

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("no plots: matplotlib is not installed (pip install -e '.[bench]')")
        return []
    written: list[Path] = []
    latencies = [r for r in rows if r.samples and r.unit == "ms"]
    if latencies:
        figure, axes = plt.subplots(len(latencies), 1, figsize=(8, 2.2 * len(latencies)), squeeze=False)
        for axis, row in zip(axes[:, 0], latencies, strict=True):
            axis.hist(row.samples, bins=40)
            axis.set_title(f"{row.benchmark}: {row.case}", fontsize=9)
            axis.set_xlabel("ms")
        figure.tight_layout()
        written.append(_save(figure, folder / "lateness.png"))
        plt.close(figure)
    by_size = [r for r in rows if r.value is not None and re.match(r"^\d+ device", r.case)]
    metrics = sorted({(r.benchmark, r.unit) for r in by_size})
    if metrics:
        figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), squeeze=False)
        for axis, (benchmark, unit) in zip(axes[0], metrics, strict=True):
            points = sorted(
                (int(r.case.split()[0]), r.value)
                for r in by_size
                if (r.benchmark, r.unit) == (benchmark, unit)
            )
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o")
            axis.set_title(benchmark, fontsize=9)
            axis.set_xlabel("devices")
            axis.set_ylabel(unit)
        figure.tight_layout()
        written.append(_save(figure, folder / "resources.png"))
        plt.close(figure)
    return written


def _save(figure: object, path: Path) -> Path:
    figure.savefig(path, dpi=110)  # type: ignore[attr-defined]
    return path
