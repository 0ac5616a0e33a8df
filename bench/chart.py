"""Draws docs/benchmarks.png from bench/results/latest.json: each server's ratio to minihttp,
as installed (the first table of the run: each server with its own defaults).

Runs in bench/.venv, which has matplotlib: ``python bench/chart.py JSON PNG``.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str) -> None:
    data = json.loads(open(source).read())
    table = data["tables"][0]
    rows = [row for row in table["rows"]
            if row["unit"] in ("req/s", "GB/s") and row["cells"].get("minihttp", {}).get("median")]
    columns = [c for c in table["columns"] if c != "minihttp"]
    colours = {column: f"C{index}" for index, column in enumerate(columns)}
    figure, axes = plt.subplots(figsize=(10, 0.9 * len(rows) + 1.5))
    labelled: set[str] = set()
    for position, row in enumerate(rows):
        present = [c for c in columns if row["cells"].get(c, {}).get("ratio")]
        height = 0.8 / max(1, len(present))
        for index, column in enumerate(present):
            axes.barh(position - 0.4 + (index + 0.5) * height, row["cells"][column]["ratio"],
                      height=height * 0.9, color=colours[column],
                      label=None if column in labelled else column)
            labelled.add(column)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.set_yticks(range(len(rows)))
    ticks = [0.25, 0.5, 1, 2, 4, 8]
    axes.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    axes.set_yticklabels([row["title"] for row in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("throughput relative to minihttp (log scale; right of 1: faster than minihttp)",
                    fontsize=9)
    axes.set_title(f"minihttp benchmark, {data['date']}: {table['title']}", fontsize=9)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(target, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
