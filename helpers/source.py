"""Show a helper's code in the notebook that teaches it.

Code that worker processes run must be importable (under ``spawn`` a worker imports it
afresh; a class defined in a notebook cannot be found there), so such code lives in
``helpers/``. ``show_source`` keeps it visible where it is taught::

    from helpers.streams import ShardedStream
    show_source(ShardedStream)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _where(path: Path) -> Path:
    """How a source file is named: relative to the repository, or, for an installed
    package, from the package down (``webdataset/utils.py``), never a machine path."""
    if "site-packages" in path.parts:
        return Path(*path.parts[len(path.parts) - path.parts[::-1].index("site-packages") :])
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)


def source_text(*objects: Any) -> str:
    """Markdown: a caption naming each object's file, then its code in a fenced block."""
    if not objects:
        raise ValueError("show_source needs at least one class, function or module")
    parts = []
    for obj in objects:
        try:
            path = Path(inspect.getsourcefile(obj)).resolve()
            code = inspect.getsource(obj)
        except (TypeError, OSError) as exc:
            raise TypeError(f"cannot show the source of {obj!r}: {exc}") from None
        where = _where(path)
        name = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
        parts.append(f"`{name}` from `{where.as_posix()}`:\n\n```python\n{code.rstrip()}\n```")
    return "\n\n".join(parts)


def show_source(*objects: Any) -> None:
    """Display the code of classes, functions or modules as highlighted Markdown."""
    from IPython.display import Markdown, display

    display(Markdown(source_text(*objects)))
