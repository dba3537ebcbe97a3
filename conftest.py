"""pytest plugin for the whole repository: after a run, print how long each notebook took
under nbval (kernel start and every cell), so `make test` shows what each one costs."""

from collections import defaultdict

_notebook_s: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_s[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_s:
        terminalreporter.write_sep("-", "nbval time per notebook")
        for path, seconds in sorted(_notebook_s.items()):
            terminalreporter.write_line(f"{seconds:6.1f} s  {path}")
