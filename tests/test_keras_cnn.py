import numpy as np
import pytest

from helpers import data

keras_cnn = pytest.importorskip("helpers.keras_cnn")


def test_keras_twin_matches_torch_parameter_count():
    model = keras_cnn.build_cnn(num_classes=4)
    assert model.count_params() == 9188
    assert model(np.zeros((2, 128, 1), np.float32)).shape == (2, 4)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        keras_cnn.build_cnn(num_classes=1)


def test_fit_records_steps_and_learns():
    X, y = data.make_signals(2048, seed=0, layout="channels_last")
    model = keras_cnn.build_cnn(4)
    bound = keras_cnn.compute_bound_step_s(model, X[:64], y[:64], steps=12)
    assert bound > 0
    ds = keras_cnn.tf.data.Dataset.from_tensor_slices((X, y)).batch(64)
    run = keras_cnn.fit(model, ds, batch_size=64, epochs=3, compute_step_s=bound, label="t")
    assert len(run.step_s) == 3 * 32 - 2  # two warm-up steps excluded
    assert run.samples == len(run.step_s) * 64
    assert run.losses[-10:].mean() < run.losses[:10].mean()
    assert 0 <= run.data_wait_share < 1
    assert run.samples_per_s > 0
    assert "samples/s" in run.summary()


def test_data_wait_estimate_arithmetic():
    run = keras_cnn.KerasRun("x", 4, 1.0, np.array([1.0, 3.0]), np.array([0.5, 0.4]), 1.0)
    assert run.data_wait_share == pytest.approx(2.0 / 4.0)
    assert np.isnan(keras_cnn.KerasRun("x", 4, 1.0, np.ones(2), np.ones(2), None).data_wait_share)


def test_fit_on_empty_data_is_an_error():
    model = keras_cnn.build_cnn(4)
    ds = keras_cnn.tf.data.Dataset.from_tensor_slices(
        (np.zeros((64, 128, 1), np.float32), np.zeros(64, np.int64))
    ).batch(64)
    with pytest.raises(ValueError, match="not more than warmup_steps"):
        keras_cnn.fit(model, ds, batch_size=64)
