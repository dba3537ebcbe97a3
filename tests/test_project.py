"""The project's promises about itself: set-up, dependencies, notebooks as stored."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"(/root/|/home/\w|/Users/\w|/tmp/|site-packages|/work/)")
sys.path.insert(0, str(ROOT / "tools"))


def test_import_helpers_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import helpers; "
        "from helpers import data, timing, plots, machine; "
        "heavy = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_environment_yml_delegates_to_requirements():
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*-r requirements\.txt\s*$", env, re.M)
    assert re.search(r"^\s*-\s*-e \.\s*$", env, re.M)
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env, re.M)
    # No package is listed twice: the only conda packages are python and pip.
    deps = env.split("dependencies:", 1)[1]
    conda_deps = re.findall(r"^  - ([A-Za-z0-9_.\-]+)(?:[=<>]\S*)?\s*$", deps, re.M)
    assert sorted(conda_deps) == ["pip", "python"], conda_deps


def test_requirements_are_pinned_and_commented():
    from helpers.check_env import pinned_requirements

    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for line in lines:
        assert "==" in line, f"not pinned: {line}"
        assert "#" in line, f"no comment saying where it is used: {line}"
    pins = pinned_requirements()
    assert pins["torch"] == "2.13.0" and pins["tensorflow"] == "2.21.0"
    for needed in ("jupyterlab", "numpy", "matplotlib", "pillow", "nbval", "pytest", "psutil"):
        assert needed in pins


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]
    for nb in NOTEBOOKS:
        assert nb.name in readme, f"README's notebook map misses {nb.name}"


def test_check_env_reports_every_pinned_package():
    from helpers import check_env

    checks = check_env.run_checks(import_modules=False)
    names = {c.name for c in checks}
    assert set(check_env.pinned_requirements()) <= names
    assert all(c.ok for c in checks), check_env.report(checks, quiet=True)
    text = check_env.report([check_env.Check("foo", False, "missing")])
    assert "FIX  foo" in text and "Not ready: 1 item" in text


def test_ruff_is_clean():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "helpers",
            "tests",
            "tools",
            "benchmarks",
            "data",
            "notebooks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    """STYLE: ruff formats helpers, tests, tools and notebooks alike; CI checks it."""
    dirs = ["helpers", "tests", "tools", "benchmarks", "data", "notebooks"]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *dirs],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"run `make format`:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_workshop_sized(path):
    """Short cells, one heading per text cell, a reading time, no forced start method, no
    helper module shadowed (tools/notebook_shape.py prints the same report)."""
    from notebook_shape import problems

    found = problems(json.loads(path.read_text()))
    assert not found, "\n".join(found)


def test_notebook_shape_catches_what_it_promises():
    from notebook_shape import problems

    def code(src, tags=()):
        return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)}}

    def text(src):
        return {"cell_type": "markdown", "source": src, "metadata": {}}

    good = [text("# T\n\n**Reading time:** about 5 minutes"), code("from helpers import data")]
    assert problems({"cells": good}) == []
    bad = [
        text("# T\n## A\n"),
        code("import multiprocessing\nmultiprocessing.set_start_method('fork', force=True)"),
        code("data = 1"),
        code("\n".join(["x = 1"] * 30)),
        code("from helpers.keras_cnn import tf"),
    ]
    found = "\n".join(problems({"cells": good + bad}))
    for expected in (
        "2 headings",
        "forces a start method",
        "shadows the helper module helpers.data",
        "30 lines",
        "import tensorflow as tf",
        "3 code cells in a row",
    ):
        assert expected in found, (expected, found)
    long_cells = [text("# T\n\nReading time: 1 minute"), code("\n".join(["x = 1"] * 10))]
    assert "median code cell is 10 lines" in problems({"cells": long_cells})[0]
    listing = code("\n".join(["x = 1"] * 30), tags=["listing"])
    assert not any("30 lines" in p for p in problems({"cells": [*good, text("x"), listing]}))


def test_spawn_pass_covers_every_notebook_that_starts_workers():
    from nbval_spawn import STARTUP, worker_notebooks

    names = {p.name[:2] for p in worker_notebooks()}
    assert {"01", "02", "03", "04", "05", "06"} <= names, names
    assert 'set_start_method("spawn", force=True)' in STARTUP


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean(path):
    """Stored from one clean run: outputs, no stray errors/warnings/paths, no volatile
    metadata, and the house skeleton."""
    from clean_notebooks import clean, dumps

    text = path.read_text()
    nb = json.loads(text)
    assert dumps(clean(nb)) == text, f"run `python tools/clean_notebooks.py {path.name}`"
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "outputs are not from one top-to-bottom run"
    assert any("parameters" in c["metadata"].get("tags", []) for c in code)
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert markdown.lstrip().startswith("# "), "first cell must be the H1 title"
    for section in ("## Key takeaways", "## Exercises", "## Solutions"):
        assert section in markdown, f"missing section {section!r}"
    for i, cell in enumerate(code):
        source = "".join(cell["source"])
        tagged = "raises-exception" in cell["metadata"].get("tags", [])
        marked = "NBVAL_RAISES_EXCEPTION" in source
        assert tagged == marked, (
            f"cell {i}: an error shown on purpose needs both the # NBVAL_RAISES_EXCEPTION "
            "comment and the raises-exception tag (JupyterLab's Run All stops otherwise)"
        )
        for out in cell.get("outputs", []):
            where = f"cell {i} ({source.splitlines()[0][:50]!r})"
            if out["output_type"] == "error":
                assert "NBVAL_RAISES_EXCEPTION" in source, f"unexpected error in {where}"
            if out["output_type"] == "stream":
                assert out["name"] != "stderr", f"stderr (a warning?) stored in {where}"
            assert not MACHINE_PATH.search(json.dumps(out)), f"machine path stored in {where}"
            if out["output_type"] == "execute_result":  # a value left at the end of a cell
                text_out = "".join(out["data"].get("text/plain", ""))
                assert not text_out.startswith(("<Figure", "<matplotlib", "<torch._C")), (
                    f"object repr printed in {where}: end the cell with plt.show() or `;`"
                )
