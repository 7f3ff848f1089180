"""Run every issue-2 benchmark and rewrite the ``## Foundation (issue 2)`` section of
``benchmarks/README.md`` from their results (other sections of that file are left alone).

``--quick`` runs smoke versions into ``benchmarks/results/quick/`` and leaves the README alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
SECTION = "## Foundation (issue 2)"

TEMPLATE = """{section}

Regenerate everything below with `make bench` (`nice -n 10 .venv/bin/python benchmarks/run_all.py`),
or one table at a time with the command given under it. Raw numbers, per-seed runs and per-epoch
traces: `benchmarks/results/accuracy.json`, `benchmarks/results/step_time.json`.

### Digits accuracy per cell

{accuracy}
Command: `nice -n 10 .venv/bin/python benchmarks/accuracy.py` (all 8 cells x seeds 0, 1, 2).
"Trainer's choice" is what `modspike train` reports (`train()` keeps one epoch by its validation
rule); "lowest val loss" and "last epoch" re-read the same runs' per-epoch test accuracy, recorded
by wrapping the trainer's `evaluate` (see the docstring of `benchmarks/accuracy.py`); they cost no
extra training and change nothing in it.

### Training step time, SRC vs snntorch Leaky

{step_time}
Command: `nice -n 10 .venv/bin/python benchmarks/step_time.py` (`--profile` prints the operator
table of each variant instead). The "prototype" rows are alternative formulations of the same
step kept in `benchmarks/step_time.py` for comparison, not the shipped cells; the check above
compares their loss and gradients with the shipped step's on the same input.
"""


def update_readme(body: str, readme: Path = README) -> None:
    """Replace this section (from its heading to the next ``## `` heading) or append it."""
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((k for k, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + body
    else:
        end = next(
            (k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + body + ("\n" + tail if tail else "")
    readme.write_text(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--readme-only", action="store_true", help="rewrite the section from existing results"
    )
    args = parser.parse_args(argv)
    extra = ["--quick"] if args.quick else []
    if not args.readme_only:
        for script in ("accuracy.py", "step_time.py"):
            subprocess.run([sys.executable, str(HERE / script), *extra], check=True)
    if args.quick:
        return 0
    results = HERE / "results"
    body = TEMPLATE.format(
        section=SECTION,
        accuracy=(results / "accuracy.md").read_text(),
        step_time=(results / "step_time.md").read_text(),
    )
    update_readme(body)
    print(f"updated {README.relative_to(HERE.parent)} ({SECTION})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
