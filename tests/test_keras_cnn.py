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
    control = keras_cnn.zero_wait_control(model, X, y, 64, steps=12)
    assert control.step_s > 0 and -1 < control.own_wait_share < 1
    assert "zero-wait control" in control.summary()
    ds = keras_cnn.tf.data.Dataset.from_tensor_slices((X, y)).batch(64)
    run = keras_cnn.fit(model, ds, batch_size=64, epochs=3, control=control, label="t")
    assert len(run.step_s) == 3 * 32 - 2  # two warm-up steps excluded
    assert run.samples == len(run.step_s) * 64
    assert run.losses[-10:].mean() < run.losses[:10].mean()
    assert 0 <= run.data_wait_share < 1
    assert run.samples_per_s > 0
    assert "samples/s" in run.summary()


def test_data_wait_estimate_arithmetic():
    control = keras_cnn.ZeroWaitControl(step_s=1.0, own_wait_share=0.02, batch_size=64)
    assert control.samples_per_s == pytest.approx(64.0)
    slower = keras_cnn.ZeroWaitControl(step_s=1.0, own_wait_share=-0.02, batch_size=64)
    for c in (control, slower):  # the spread reads unsigned, whichever run was off
        assert "differ by up to 2.0%: the wait estimate's noise floor is ±2.0%" in c.summary()
    run = keras_cnn.KerasRun("x", 4, 1.0, np.array([1.0, 3.0]), np.array([0.5, 0.4]), control)
    assert run.data_wait_share == pytest.approx(1 - 1.0 / 2.0)  # mean step 2 s, control 1 s
    assert "noise floor ±2.0%" in run.summary()
    faster = keras_cnn.KerasRun("x", 4, 1.0, np.array([0.9, 0.9]), np.ones(2), control)
    assert faster.data_wait_share == 0.0  # faster than the control: no wait, not negative
    assert np.isnan(keras_cnn.KerasRun("x", 4, 1.0, np.ones(2), np.ones(2), None).data_wait_share)


def test_zero_wait_control_rejects_bad_sizes():
    X, y = data.make_signals(64, seed=0, layout="channels_last")
    model = keras_cnn.build_cnn(4)
    with pytest.raises(ValueError, match="steps must be >= 10"):
        keras_cnn.zero_wait_control(model, X, y, 64, steps=5)
    with pytest.raises(ValueError, match="batch_size <= len"):
        keras_cnn.zero_wait_control(model, X, y, 128)


def test_fit_on_empty_data_is_an_error():
    model = keras_cnn.build_cnn(4)
    ds = keras_cnn.tf.data.Dataset.from_tensor_slices(
        (np.zeros((64, 128, 1), np.float32), np.zeros(64, np.int64))
    ).batch(64)
    with pytest.raises(ValueError, match="not more than warmup_steps"):
        keras_cnn.fit(model, ds, batch_size=64)
