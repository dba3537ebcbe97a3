"""helpers/processes.py: the leftover-process check notebooks 07 and 08 assert with."""

import subprocess
import sys

from helpers import distributed, processes, resume


def test_group_members_are_found_and_ignore_skips_by_command_line():
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)  # sleeper-for-test"],
        start_new_session=True,
    )
    try:
        found = processes.leftover(children=False, wait_s=0.1, groups=[proc.pid])
        assert [line.split()[0] for line in found] == [str(proc.pid)]
        assert (
            processes.leftover(
                children=False, wait_s=0.1, groups=[proc.pid], ignore=["sleeper-for-test"]
            )
            == []
        )
    finally:
        proc.kill()
        proc.wait()
    assert processes.leftover(children=False, wait_s=0.1, groups=[proc.pid]) == []


def test_notebook_helpers_use_the_same_check():
    assert distributed.leftover is processes.leftover
    assert resume.live_processes(groups=[]) == []
