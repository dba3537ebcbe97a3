"""`make gpu-check` itself: the script runs end to end, and its exit status says whether
the GPU was used (here, without a GPU, a dry run on the CPU must exit 1, never 0)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


def run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_dry_run_trains_every_config_and_does_not_claim_the_gpu():
    torch = pytest.importorskip("torch")
    done = run("--allow-cpu", "--steps", "12", "--batch-size", "32")
    out = done.stdout
    for workers in (0, 2):
        for pin in (False, True):
            assert f"pin_memory={pin}, {workers} workers" in out, out
    if torch.cuda.is_available():
        assert done.returncode == 0, out + done.stderr
        assert "trained and copied on the GPU" in out
    else:
        assert done.returncode == 1, out + done.stderr
        assert "the GPU was not used" in out


def test_without_a_gpu_and_without_allow_cpu_nothing_is_claimed():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = run()
    assert done.returncode == 2
    assert "No CUDA device" in done.stdout
