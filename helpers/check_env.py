"""Environment check: is this machine ready for Loader Lab? Run it before a workshop.

    make check            # or: python -m helpers.check_env

It compares every pinned package in requirements.txt with what is installed, imports
the frameworks once to prove they load, and checks the committed data files and that
data/generated/ is writable. Exit status 0 means ready; 1 lists what to fix.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .data import GENERATED_DIR, REAL_DIR, REPO_ROOT

REQUIREMENTS = REPO_ROOT / "requirements.txt"
#: Modules imported to prove a package works, not just that it is installed.
IMPORT_CHECKS = {
    "torch": "torch",
    "tensorflow": "tensorflow",
    "pillow": "PIL",
    "nbval": "nbval",
    "torchdata": "torchdata.stateful_dataloader",
    "h5py": "h5py",
    "webdataset": "webdataset",
}
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s#;]+)")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def pinned_requirements(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{package: version}`` for every ``name==version`` line of requirements.txt."""
    pins = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _version_matches(installed: str, pinned: str) -> bool:
    # A local build label is fine: torch 2.13.0+cpu satisfies torch==2.13.0.
    return installed == pinned or installed.split("+")[0] == pinned


def check_packages(pins: dict[str, str], import_modules: bool = True) -> list[Check]:
    checks = []
    for name, pinned in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(
                Check(
                    name,
                    False,
                    f"missing (need {pinned}): run `make test` or "
                    "`pip install -r requirements.txt`",
                )
            )
            continue
        if not _version_matches(installed, pinned):
            checks.append(Check(name, False, f"{installed} installed, {pinned} pinned"))
            continue
        module = IMPORT_CHECKS.get(name)
        if import_modules and module:
            try:
                importlib.import_module(module)
            except Exception as e:  # report any import failure, whatever its type
                checks.append(Check(name, False, f"{installed} installed but import failed: {e}"))
                continue
        checks.append(Check(name, True, installed))
    return checks


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", sys.version_info[:2] == (3, 11), f"{version} (need 3.11)")


def check_data() -> list[Check]:
    checks = []
    for name in ("gunpoint.npz", "pickup_gesture_wiimote_z.npz", "internal_bleeding16.npz"):
        path = REAL_DIR / name
        checks.append(
            Check(
                f"data/real/{name}",
                path.is_file(),
                "present" if path.is_file() else "missing: restore it with git",
            )
        )
    try:
        GENERATED_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=GENERATED_DIR):
            pass
        checks.append(Check("data/generated/", True, "writable"))
    except OSError as e:
        checks.append(Check("data/generated/", False, f"not writable: {e}"))
    return checks


def run_checks(import_modules: bool = True) -> list[Check]:
    """Every check, in the order they are printed."""
    return [check_python(), *check_packages(pinned_requirements(), import_modules), *check_data()]


def report(checks: list[Check], quiet: bool = False) -> str:
    lines = [
        f"  {'ok ' if c.ok else 'FIX'}  {c.name:<32} {c.detail}"
        for c in checks
        if not (quiet and c.ok)
    ]
    bad = sum(not c.ok for c in checks)
    verdict = (
        "Ready: everything Loader Lab needs is here."
        if not bad
        else (f"Not ready: {bad} item(s) marked FIX above.")
    )
    return "\n".join([*lines, verdict])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print only what needs fixing")
    args = parser.parse_args(argv)
    checks = run_checks(import_modules=not args.quiet)
    print(report(checks, quiet=args.quiet))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
