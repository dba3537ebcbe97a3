"""Strip volatile metadata from notebooks, in place: `python tools/clean_notebooks.py NB...`.

Keeps outputs and execution counts (the notebooks are stored executed, so they read
well on GitHub) but drops per-cell execution timestamps, widget state and the exact
Python version, so a re-run on another machine changes only what it measured.
With --check it changes nothing and exits 1 if a notebook would change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEEP_CELL_METADATA = ("tags",)


def clean(nb: dict) -> dict:
    """The notebook ``nb`` (parsed JSON) with volatile metadata removed."""
    nb = json.loads(json.dumps(nb))  # deep copy
    nb["metadata"] = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for cell in nb["cells"]:
        cell["metadata"] = {
            k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA
        }
        cell.pop("id", None)
        for output in cell.get("outputs", []):
            output.get("metadata", {}).pop("transient", None)
    nb["nbformat"], nb["nbformat_minor"] = 4, 4
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report, do not write")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        text = path.read_text()
        cleaned = dumps(clean(json.loads(text)))
        if cleaned != text:
            dirty.append(path)
            if not args.check:
                path.write_text(cleaned)
    for path in dirty:
        print(f"{'would clean' if args.check else 'cleaned'}: {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
