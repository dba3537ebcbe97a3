"""Build the small real datasets in ``data/real/`` from the UCR/UEA files bundled in aeon.

The aeon wheel on PyPI ships a few UCR/UEA archive datasets as text files under
``aeon/datasets/data/``. This script reads them straight out of the wheel (a zip file),
parses them with the standard library, and writes compressed ``.npz`` files that load with
``np.load(path)`` (``allow_pickle=False``). aeon is not installed or imported, and nothing
is downloaded here.

Get the wheel first (only ``pip download``; do not install it)::

    pip download --no-deps aeon==1.6.0 -d /tmp/aeon

then run, from the repository root::

    python data/make_real_datasets.py /tmp/aeon/aeon-1.6.0-py3-none-any.whl

Outputs (see ``data/README.md`` for the keys, shapes and dtypes):

* ``data/real/gunpoint.npz``                 GunPoint, fixed length 150, 2 classes.
* ``data/real/pickup_gesture_wiimote_z.npz`` PickupGestureWiimoteZ, variable length,
  10 classes, stored ragged as concatenated values plus lengths.
* ``data/real/internal_bleeding16.npz``      UCR anomaly archive no. 135 (InternalBleeding16).

Each file is written to a temporary file in the same folder and then moved into place with
``os.replace``. The zip entries get a fixed timestamp, so rerunning the script on the same
wheel gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ROOT = "aeon/datasets/data"
GUNPOINT_TRAIN = f"{DATA_ROOT}/GunPoint/GunPoint_TRAIN.ts"
GUNPOINT_TEST = f"{DATA_ROOT}/GunPoint/GunPoint_TEST.ts"
PICKUP_TRAIN = f"{DATA_ROOT}/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TRAIN.ts"
PICKUP_TEST = f"{DATA_ROOT}/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TEST.ts"
BLEEDING_TRAIN = f"{DATA_ROOT}/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TRAIN.csv"
BLEEDING_TEST = f"{DATA_ROOT}/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"

# Fixed zip timestamp (the earliest a zip can hold) for reproducible output bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class TsFile:
    """A parsed univariate ``.ts`` classification file (sktime/aeon text format)."""

    series: list[np.ndarray]
    labels: list[str]
    class_labels: list[str]


def read_text(wheel: zipfile.ZipFile, member: str) -> str:
    """Return one member of the wheel decoded as UTF-8."""
    try:
        raw = wheel.read(member)
    except KeyError:
        raise SystemExit(f"{member} is not in the wheel; is this an aeon wheel?") from None
    return raw.decode("utf-8")


def parse_value(token: str) -> float:
    """Parse one number of a ``.ts`` file; ``?`` and ``NaN`` mean missing."""
    token = token.strip()
    if token in ("?", "") or token.lower() == "nan":
        return float("nan")
    return float(token)


def parse_ts(text: str) -> TsFile:
    """Parse a univariate ``.ts`` file with class labels and no time stamps.

    Each data line is ``v1,v2,...,vm:label``. Trailing NaN padding (used by some UCR
    variable-length files) is stripped, so each series keeps its true length.
    """
    class_labels: list[str] = []
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            key, _, rest = line.partition(" ")
            key = key.lower()
            if key == "@timestamps" and rest.strip().lower() != "false":
                raise ValueError("time-stamped .ts files are not supported")
            if key == "@univariate" and rest.strip().lower() != "true":
                raise ValueError("only univariate .ts files are supported")
            if key == "@classlabel":
                flag, *names = rest.split()
                if flag.lower() != "true" or not names:
                    raise ValueError("the .ts file has no class labels")
                class_labels = names
            elif key == "@data":
                in_data = True
            continue
        *dims, label = line.split(":")
        if len(dims) != 1:
            raise ValueError(f"line {line_no}: expected one dimension, got {len(dims)}")
        values = np.array([parse_value(tok) for tok in dims[0].split(",")], dtype=np.float64)
        finite = np.flatnonzero(~np.isnan(values))
        if finite.size == 0:
            raise ValueError(f"line {line_no}: series is all missing")
        values = values[: finite[-1] + 1]
        if np.isnan(values).any():
            raise ValueError(f"line {line_no}: missing value inside the series")
        series.append(values)
        labels.append(label.strip())
    if not class_labels:
        raise ValueError("no @classLabel header found")
    unknown = sorted(set(labels) - set(class_labels))
    if unknown:
        raise ValueError(f"labels {unknown} are not declared in @classLabel")
    return TsFile(series, labels, class_labels)


def encode_labels(labels: list[str], class_labels: list[str]) -> np.ndarray:
    """Map label strings to 0-based int64 codes in ``@classLabel`` declaration order."""
    index = {name: i for i, name in enumerate(class_labels)}
    return np.array([index[label] for label in labels], dtype=np.int64)


def check_same_classes(train: TsFile, test: TsFile) -> list[str]:
    """Return the shared class list, failing if train and test declare different ones."""
    if train.class_labels != test.class_labels:
        raise ValueError(f"class lists differ: {train.class_labels} vs {test.class_labels}")
    return train.class_labels


def build_gunpoint(wheel: zipfile.ZipFile) -> dict[str, np.ndarray]:
    """GunPoint: equal-length series stacked as ``(n, 1, length)`` float32."""
    train = parse_ts(read_text(wheel, GUNPOINT_TRAIN))
    test = parse_ts(read_text(wheel, GUNPOINT_TEST))
    classes = check_same_classes(train, test)
    arrays: dict[str, np.ndarray] = {}
    for split, parsed in (("train", train), ("test", test)):
        lengths = {len(s) for s in parsed.series}
        if len(lengths) != 1:
            raise ValueError(f"GunPoint {split}: expected equal lengths, got {sorted(lengths)}")
        arrays[f"X_{split}"] = np.stack(parsed.series).astype(np.float32)[:, np.newaxis, :]
        arrays[f"y_{split}"] = encode_labels(parsed.labels, classes)
    arrays["class_names"] = np.array(classes, dtype=np.str_)
    return arrays


def build_pickup(wheel: zipfile.ZipFile) -> dict[str, np.ndarray]:
    """PickupGestureWiimoteZ: variable-length series stored as values + lengths."""
    train = parse_ts(read_text(wheel, PICKUP_TRAIN))
    test = parse_ts(read_text(wheel, PICKUP_TEST))
    classes = check_same_classes(train, test)
    arrays: dict[str, np.ndarray] = {}
    for split, parsed in (("train", train), ("test", test)):
        arrays[f"X_{split}_values"] = np.concatenate(parsed.series).astype(np.float32)
        arrays[f"X_{split}_lengths"] = np.array([len(s) for s in parsed.series], dtype=np.int64)
        arrays[f"y_{split}"] = encode_labels(parsed.labels, classes)
    arrays["class_names"] = np.array(classes, dtype=np.str_)
    return arrays


def read_timeeval_csv(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a univariate TimeEval CSV (``timestamp,value,is_anomaly``)."""
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], [r for r in rows[1:] if r]
    if [h.strip() for h in header] != ["timestamp", "value", "is_anomaly"]:
        raise ValueError(f"unexpected CSV header {header}")
    stamps = np.array([int(r[0]) for r in body], dtype=np.int64)
    if not np.array_equal(stamps, np.arange(len(body))):
        raise ValueError("timestamps are not 0, 1, 2, ...")
    values = np.array([float(r[1]) for r in body], dtype=np.float64)
    is_anomaly = np.array([int(r[2]) for r in body], dtype=np.int64)
    return values, is_anomaly


def build_internal_bleeding(wheel: zipfile.ZipFile) -> dict[str, np.ndarray]:
    """UCR anomaly no. 135: one series, its normal training prefix and one anomaly.

    aeon ships the series in TimeEval form: the TEST file is the whole series with a
    per-point ``is_anomaly`` label, the TRAIN file is its anomaly-free prefix. The indices
    stored here are read from those labels (0-based, ``anomaly_end`` exclusive).
    """
    series, is_anomaly = read_timeeval_csv(read_text(wheel, BLEEDING_TEST))
    train_values, train_labels = read_timeeval_csv(read_text(wheel, BLEEDING_TRAIN))
    train_end = len(train_values)
    if not np.array_equal(series[:train_end], train_values) or train_labels.any():
        raise ValueError("TRAIN file is not an anomaly-free prefix of the TEST file")
    anomalous = np.flatnonzero(is_anomaly)
    if anomalous.size == 0 or np.any(np.diff(anomalous) != 1):
        raise ValueError("expected exactly one contiguous anomaly")
    start, end = int(anomalous[0]), int(anomalous[-1]) + 1
    if start < train_end:
        raise ValueError("anomaly lies inside the training prefix")
    return {
        "series": series.astype(np.float32),
        "train_end": np.array(train_end, dtype=np.int64),
        "anomaly_start": np.array(start, dtype=np.int64),
        "anomaly_end": np.array(end, dtype=np.int64),
    }


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a compressed ``.npz`` atomically, with fixed zip timestamps.

    The layout matches ``np.savez_compressed`` (one ``<key>.npy`` entry per array), so
    ``np.load`` reads it as usual.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            for key, array in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w") as member:
                    np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; make it an ordinary data file
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def describe(path: Path) -> str:
    """One line per array of a saved file, read back with ``allow_pickle=False``."""
    lines = [f"{path} ({path.stat().st_size:,} bytes)"]
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            arr = npz[key]
            lines.append(f"  {key:16s} {arr.dtype!s:8s} {arr.shape}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the wheel given on the command line and write the three ``.npz`` files."""
    parser = argparse.ArgumentParser(
        description="Build data/real/*.npz from the UCR/UEA files bundled in an aeon wheel."
    )
    parser.add_argument("wheel", type=Path, help="path to a downloaded aeon-*.whl")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "real",
        help="output folder (default: data/real next to this script)",
    )
    args = parser.parse_args(argv)

    builders = {
        "gunpoint.npz": build_gunpoint,
        "pickup_gesture_wiimote_z.npz": build_pickup,
        "internal_bleeding16.npz": build_internal_bleeding,
    }
    with zipfile.ZipFile(args.wheel) as wheel:
        built = {name: build(wheel) for name, build in builders.items()}
    for name, arrays in built.items():
        out = args.out_dir / name
        save_npz(out, arrays)
        print(describe(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
