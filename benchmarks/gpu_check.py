"""`make gpu-check`: the GPU path of notebook 01, run for real on a CUDA machine.

    python benchmarks/gpu_check.py [--steps 300] [--allow-cpu]

Needs only PyTorch, NumPy, psutil, Matplotlib and tqdm (no Jupyter, no TensorFlow;
Python 3.11 or 3.12). It

1. trains the 1D CNN ``--steps`` steps on the GPU from a ``DataLoader`` with
   ``pin_memory`` off and on, with 0 and 2 workers (``non_blocking=True`` when pinned),
   and prints samples/s and the data-wait share of each;
2. times host-to-device copies of pageable vs pinned memory, with and without
   ``non_blocking``, synchronising the GPU around each copy;
3. prints the device, and exits 0 only if the model and the batches really were on a
   CUDA device: 1 if the GPU was not used, 2 if there is no CUDA device at all.

``--allow-cpu`` runs the same code on the CPU (a dry run of the script itself, as the
tests do); the exit status is then 1, since no GPU was used. It finishes in well under
3 minutes on any CUDA GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def train_configs(device: str, steps: int, batch_size: int) -> list[dict]:
    """One training run per (pin_memory, workers); each returns its figures."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from helpers import data
    from helpers.torch_cnn import build_cnn, train

    n = max(steps * batch_size // 4, 4 * batch_size)  # about 4 epochs per run
    X, y = data.make_signals(n, 1024, 4)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    results = []
    for workers in (0, 2):
        for pin in (False, True):
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=True,
                num_workers=workers,
                pin_memory=pin and device.startswith("cuda"),
                persistent_workers=workers > 0,
            )
            model = build_cnn(4, seed=0)
            label = f"pin_memory={pin}, {workers} workers"
            run = train(
                model,
                loader,
                epochs=1000,
                max_steps=steps,
                device=device,
                non_blocking=pin,
                label=label,
                warmup=5,
                progress=False,
            )
            on_device = next(model.parameters()).device.type
            results.append(
                {
                    "label": label,
                    "samples_per_s": run.samples_per_s,
                    "data_wait_share": run.data_wait_share,
                    "final_loss": run.final_loss,
                    "device": run.device,
                    "model_on": on_device,
                }
            )
            print(
                f"  {label:<28} {run.samples_per_s:>10,.0f} samples/s  "
                f"data wait {run.data_wait_share:5.1%}  loss {run.final_loss:.3f}  "
                f"(model on {on_device})",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--copy-mb", type=float, default=64.0, help="size of each timed copy")
    parser.add_argument("--allow-cpu", action="store_true", help="dry run on the CPU (exit 1)")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()

    import torch

    from helpers import machine

    print(f"Machine: {machine.describe()}")
    cuda = torch.cuda.is_available()
    if cuda:
        device = "cuda"
        print(f"Device: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    elif args.allow_cpu:
        device = "cpu"
        print("Device: CPU (dry run: --allow-cpu; no GPU here)")
    else:
        print("No CUDA device: torch.cuda.is_available() is False. Nothing was checked.")
        return 2

    print(f"\n1. Training the 1D CNN, {args.steps} steps a run, batch {args.batch_size}:")
    results = train_configs(device, args.steps, args.batch_size)

    print(f"\n2. Host-to-device copies of {args.copy_mb:.0f} MB:")
    if cuda:
        from helpers.transfer import host_to_device_copy_times

        print(host_to_device_copy_times(args.copy_mb, repeat=10).summary())
    else:
        print("  skipped: no CUDA device")

    used_gpu = cuda and all(r["model_on"] == "cuda" for r in results)
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
        print(f"\nGPU memory allocated at peak: {peak:,.0f} MB")
        used_gpu = used_gpu and peak > 0
    print(f"\nTotal time: {time.perf_counter() - t_start:.0f} s")
    if not used_gpu:
        print("RESULT: the GPU was not used (exit 1).")
        return 1
    print("RESULT: trained and copied on the GPU (exit 0).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
