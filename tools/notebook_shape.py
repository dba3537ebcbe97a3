"""Is each notebook sized for a workshop? `python tools/notebook_shape.py [NB...]`.

Prints, per notebook, its cell counts and median code-cell length, then every rule it
breaks (exit 1 if any). tests/test_project.py runs the same checks. The rules (STYLE.md
and DESIGN.md):

- the median code cell is at most 8 lines; a cell over 25 lines carries the tag
  ``listing`` (a seed example shown as written, which the reader must see whole);
- one heading per markdown cell ("Break text cells at headings");
- never three code cells in a row without a sentence between them;
- the overview states a reading time;
- no forced start method (``set_start_method``): worker cells run under fork and spawn;
- TensorFlow is imported as readers do (``import tensorflow as tf``), not from helpers;
- no variable shadows a helper module imported by the notebook (``data = ...``).
"""

from __future__ import annotations

import ast
import json
import re
import statistics
import sys
from pathlib import Path

MAX_MEDIAN_LINES = 8
MAX_CELL_LINES = 25
MAX_CODE_RUN = 2
HELPER_MODULES = {p.stem for p in (Path(__file__).resolve().parent.parent / "helpers").glob("*.py")}


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def code_lines(cell: dict) -> int:
    """Lines of a code cell, blank lines inside it included (leading/trailing ones not)."""
    return len(_source(cell).strip().splitlines())


def _python(source: str) -> str:
    """Cell source with IPython magics and shell lines blanked out, for ast."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _headings(markdown: str) -> list[str]:
    heads, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            heads.append(line)
    return heads


def stats(nb: dict) -> dict:
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and _source(c).strip()]
    lengths = [code_lines(c) for c in code]
    return {
        "cells": len(cells),
        "code": len(code),
        "markdown": sum(c["cell_type"] == "markdown" for c in cells),
        "median_code_lines": statistics.median(lengths) if lengths else 0,
        "over_25": sum(n > MAX_CELL_LINES for n in lengths),
        "longest": max(lengths, default=0),
    }


def problems(nb: dict) -> list[str]:
    """Every shape rule the notebook breaks, as sentences naming the cell."""
    found = []
    cells = nb["cells"]
    st = stats(nb)
    if st["median_code_lines"] > MAX_MEDIAN_LINES:
        found.append(
            f"median code cell is {st['median_code_lines']} lines (at most {MAX_MEDIAN_LINES})"
        )
    run, imported, assigned = 0, set(), {}
    for i, cell in enumerate(cells):
        source = _source(cell)
        first = source.strip().splitlines()[0][:60] if source.strip() else ""
        where = f"cell {i} ({first!r})"
        if cell["cell_type"] == "markdown":
            run = 0
            heads = _headings(source)
            if len(heads) > 1:
                found.append(f"{where}: {len(heads)} headings in one markdown cell")
            continue
        if not source.strip():
            continue
        run += 1
        if run > MAX_CODE_RUN:
            found.append(f"{where}: {run} code cells in a row with no text between")
        n = code_lines(cell)
        if n > MAX_CELL_LINES and "listing" not in cell["metadata"].get("tags", []):
            found.append(
                f"{where}: {n} lines; split it, or tag it `listing` if it is a seed shown whole"
            )
        if re.search(r"\bset_start_method\s*\(", source):
            found.append(f"{where}: forces a start method")
        if re.search(r"from helpers\.\w+ import [^\n]*\b(tf|keras)\b", source):
            found.append(f"{where}: import TensorFlow as readers do: `import tensorflow as tf`")
        try:
            tree = ast.parse(_python(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "helpers":
                imported.update(a.asname or a.name for a in node.names if a.name in HELPER_MODULES)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned.setdefault(node.id, where)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assigned.setdefault(node.name, where)
    for name in sorted(imported & set(assigned)):
        found.append(f"{assigned[name]}: `{name}` shadows the helper module helpers.{name}")
    overview = "\n".join(_source(c) for c in cells[:3] if c["cell_type"] == "markdown")
    if not re.search(r"reading time", overview, re.I):
        found.append("the overview does not state a reading time")
    return found


def main(paths: list[str]) -> int:
    paths = paths or sorted(str(p) for p in Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    bad = 0
    for path in paths:
        nb = json.loads(Path(path).read_text())
        st = stats(nb)
        print(
            f"{Path(path).name}: {st['cells']} cells ({st['code']} code, "
            f"{st['markdown']} markdown), median code cell {st['median_code_lines']} lines, "
            f"{st['over_25']} over 25, longest {st['longest']}"
        )
        for p in problems(nb):
            bad += 1
            print(f"  - {p}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
