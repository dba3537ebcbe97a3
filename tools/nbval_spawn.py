"""Run the notebooks that start worker processes again, under the `spawn` start method.

`spawn` is the default on macOS and Windows (and `forkserver` on Linux from Python 3.14):
a worker imports everything it runs afresh, so code defined in a notebook cannot reach
it. `make test` runs this after the normal nbval pass, so a worker cell that only works
under `fork` turns the build red.

How: an IPython startup file, in a temporary IPYTHONDIR, sets the start method before
the kernel runs any cell, and records that it did; the notebooks themselves force
nothing. `python tools/nbval_spawn.py [NB...]` (default: every notebook that starts
worker processes). Extra pytest arguments go after `--`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTS_WORKERS = re.compile(
    r"num_workers\s*=|use_multiprocessing\s*=\s*True|multiprocessing|ProcessPool|Pool\("
)
STARTUP = """\
import multiprocessing, os
multiprocessing.set_start_method("spawn", force=True)  # test harness only, never a notebook
with open(os.environ["LOADER_LAB_SPAWN_MARKER"], "a") as marker:
    marker.write(multiprocessing.get_start_method() + "\\n")
"""


def worker_notebooks() -> list[Path]:
    """Notebooks whose code starts worker processes (DataLoader workers, pools, ...)."""
    return [
        nb
        for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if STARTS_WORKERS.search(nb.read_text())
    ]


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    named = argv[: argv.index("--")] if "--" in argv else argv
    notebooks = [Path(p).resolve() for p in named] or worker_notebooks()
    with tempfile.TemporaryDirectory(prefix="ipython-spawn-") as ipython_dir:
        startup = Path(ipython_dir, "profile_default", "startup")
        startup.mkdir(parents=True)
        (startup / "00_start_method_spawn.py").write_text(STARTUP)
        marker = Path(ipython_dir, "kernels-started")
        env = dict(os.environ, IPYTHONDIR=ipython_dir, LOADER_LAB_SPAWN_MARKER=str(marker))
        print(f"nbval under spawn: {', '.join(nb.name for nb in notebooks)}", flush=True)
        command = [sys.executable, "-m", "pytest", *map(str, notebooks), *extra]
        code = subprocess.run(command, cwd=ROOT, env=env).returncode
        kernels = marker.read_text().split() if marker.exists() else []
    if code == 0 and (len(kernels) < len(notebooks) or set(kernels) != {"spawn"}):
        print(f"the kernels did not start under spawn ({kernels}); nothing was tested")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
