"""What a notebook started and must have ended: child processes, launches, their workers.

One check for notebooks 07 and 08 (and their tests): :func:`leftover` lists processes
that are still alive and should not be. Nothing here imports PyTorch or TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence


def leftover(
    pids: Sequence[int] = (),
    wait_s: float = 2.0,
    children: bool = True,
    sessions: Iterable[int] = (),
    groups: Iterable[int] = (),
    ignore: Sequence[str] = (),
) -> list[str]:
    """Processes that should be gone, one line per process, ``"pid name"``; empty when
    clean. Looked for:

    - this process's children (recursive; unless ``children=False``);
    - any of ``pids`` still running;
    - any process in one of ``sessions`` (a launch started with
      ``start_new_session=True`` heads a session whose id is its pid; a DataLoader
      worker orphaned by a dead rank is no longer our child, but still in that session)
      or in one of the process ``groups``.

    Each gets ``wait_s`` seconds to finish dying (a killed process needs a moment).
    Zombies (dead, not yet reaped) do not count, nor processes whose command line
    contains one of ``ignore`` (e.g. multiprocessing's resource tracker, which Python
    keeps on purpose)."""
    import psutil

    sessions, groups = set(sessions), set(groups)
    found = {p.pid: p for p in psutil.Process().children(recursive=True)} if children else {}
    for pid in pids:
        try:
            found.setdefault(pid, psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    if sessions or groups:
        for p in psutil.process_iter():
            try:
                if os.getsid(p.pid) in sessions or os.getpgid(p.pid) in groups:
                    found.setdefault(p.pid, p)
            except (ProcessLookupError, PermissionError, psutil.Error):
                pass
    _, alive = psutil.wait_procs(list(found.values()), timeout=wait_s)
    lines = []
    for p in sorted(alive, key=lambda p: p.pid):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            if ignore and any(text in " ".join(p.cmdline()) for text in ignore):
                continue
            lines.append(f"{p.pid} {p.name()}")
        except psutil.Error:
            pass
    return lines
