import multiprocessing
import os
import pickle

import numpy as np
import pytest

from helpers import data, pool_work

FUNCTIONS = [pool_work.data_generator, pool_work.process_chunk, pool_work.work_on_chunk]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_worker_functions_pickle_by_name(fn):
    assert pickle.loads(pickle.dumps(fn)) is fn


def test_data_generator_returns_a_generator_that_cannot_be_pickled():
    gen = pool_work.data_generator([1, 2, 3])
    with pytest.raises(TypeError, match="generator"):
        pickle.dumps(gen)
    assert list(gen) == [1, 2, 3]


def _chunks():
    arrays = [np.random.default_rng(i).random(7) for i in range(10)]
    return arrays, [arrays[:5], arrays[5:]]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_process_chunk_in_a_pool_equals_in_process(method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    arrays, chunks = _chunks()
    with multiprocessing.get_context(method).Pool(2) as pool:
        pooled = pool.map(pool_work.process_chunk, chunks)
    in_process = [pool_work.process_chunk(c) for c in chunks]
    for a, b in zip(pooled, in_process, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate(pooled), np.stack(arrays))  # each once, in order


def test_generator_objects_cannot_come_back_from_a_pool():
    _, chunks = _chunks()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        with pytest.raises(multiprocessing.pool.MaybeEncodingError, match="generator"):
            pool.map(pool_work.data_generator, chunks)


def test_work_on_chunk_in_a_pool_equals_in_process():
    X = np.arange(24, dtype=np.float32).reshape(6, 4)
    tasks = [(data.SampleWork("cpu", 1e-5), c) for c in np.array_split(X, 2)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pooled = pool.map(pool_work.work_on_chunk, tasks)
    in_process = [pool_work.work_on_chunk(t) for t in tasks]
    for a, b in zip(pooled, in_process, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate(pooled), X)


def test_capture_worker_stderr_keeps_the_last_line_and_restores_stderr():
    before = os.fstat(2)
    with pool_work.capture_worker_stderr() as said:
        assert said() == ""
        p = multiprocessing.get_context("spawn").Process(
            target=os.write, args=(2, b"first\nValueError: the last line\n\n")
        )
        p.start()
        p.join()
        assert said() == "ValueError: the last line"
    after = os.fstat(2)
    assert (before.st_ino, before.st_dev) == (after.st_ino, after.st_dev)
