"""Short, machine-independent text for an exception, to print in a notebook.

TensorFlow re-raises an error from Python code that ran inside its runtime (a
generator behind ``Dataset.from_generator``, a ``tf.numpy_function``) as an
``InvalidArgumentError`` whose *message* holds the whole Python traceback of the
original error, with the absolute file paths of the machine it ran on, plus internal
node names. :func:`error_summary` keeps what a reader needs: the exception type and
the message lines that name the problem.
"""

from __future__ import annotations

import re

__all__ = ["error_summary"]

_NODE = re.compile(r"\{\{function_node [^}]*\}\}\s*")  # TF's internal function name
# "[[{{node PyFunc}}]] [Op:IteratorGetNext] name: " appended by TF's eager runtime
_OP_SUFFIX = re.compile(r"\s*(\[\[\{\{node [^}]*\}\}\]\]|\[Op:[^\]]*\]).*$")
# An absolute file path (not part of a URL): keep only its last component.
_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s\"'/]+/)+([^\s\"'/]+)")
_SKIP = (
    "Traceback (most recent call last)",
    "The above exception was the direct cause",
    "During handling of the above exception",
)


def error_summary(exc: BaseException) -> str:
    """``"TypeName: message"`` of ``exc``, without embedded tracebacks or file paths.

    Lines of the message that belong to an embedded traceback (``Traceback (most
    recent call last):`` and the indented ``File ...`` / source lines after it, or
    after a line ending in ``was defined here:``), TensorFlow's ``{{function_node
    ...}}`` and ``[[{{node ...}}]]`` decorations, blank lines and repeated lines are
    dropped; any remaining absolute path is shortened to its file name. URLs are
    kept. An exception with an empty message gives just its type name.

    >>> error_summary(ValueError("batch_size must be >= 1, got 0"))
    'ValueError: batch_size must be >= 1, got 0'
    """
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    kept: list[str] = []
    in_traceback = False
    for raw in text.splitlines():
        line = _OP_SUFFIX.sub("", _NODE.sub("", raw)).rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(_SKIP):
            in_traceback = in_traceback or stripped.startswith(_SKIP[0])
            continue
        if stripped.endswith("was defined here:"):
            in_traceback = True
            continue
        if in_traceback and (line[:1].isspace() or set(stripped) <= {"^", "~"}):
            continue  # a "File ..." line, a source line, or a caret marker
        in_traceback = False
        line = _PATH.sub(r"\1", stripped)
        if line not in kept:
            kept.append(line)
    name = type(exc).__name__
    return f"{name}: " + "\n".join(kept) if kept else name
