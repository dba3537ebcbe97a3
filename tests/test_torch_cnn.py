import numpy as np
import pytest
import torch

from helpers import data
from helpers.torch_cnn import build_cnn, count_parameters, evaluate, pick_device, train


def batches_of(X, y, batch_size):
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    return [(X[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(X), batch_size)]


def test_model_shapes_and_parameter_count():
    model = build_cnn(num_classes=4)
    assert count_parameters(model) == 9188  # same as the Keras twin (test_keras_cnn)
    for length in (64, 128, 150):
        assert model(torch.zeros(3, 1, length)).shape == (3, 4)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        build_cnn(num_classes=1)


def test_same_seed_same_weights():
    a, b, c = build_cnn(seed=1), build_cnn(seed=1), build_cnn(seed=2)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(
        torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_training_learns_and_records_times():
    X, y = data.make_signals(4096, num_classes=4, seed=0)
    model = build_cnn(4)
    result = train(model, batches_of(X, y, 64), epochs=3, progress=False, label="mem")
    assert result.device == str(pick_device())
    assert result.measurement.batches == 3 * 64 - 1  # one warm-up step
    assert len(result.losses) == result.measurement.batches
    assert result.losses[-20:].mean() < result.losses[:20].mean() * 0.7
    Xv, yv = data.make_signals(1000, seed=9)
    assert evaluate(model, Xv, yv) > 0.6  # chance is 0.25
    assert 0 <= result.data_wait_share < 1
    assert "samples/s" in result.summary()


def test_numpy_batches_and_max_steps():
    X, y = data.make_signals(640, seed=0)
    result = train(
        build_cnn(),
        [(X[i : i + 64], y[i : i + 64]) for i in range(0, 640, 64)],
        epochs=5,
        max_steps=12,
        progress=False,
    )
    assert result.measurement.batches == 12


def test_one_shot_generator_fails_loudly_on_second_epoch():
    X, y = data.make_signals(256, seed=0)
    gen = iter(batches_of(X, y, 64))
    with pytest.raises(ValueError, match="epoch 2 yielded no batches.*one-shot iterator"):
        train(build_cnn(), gen, epochs=2, progress=False)
    with pytest.raises(ValueError, match="epoch 1 yielded no batches"):
        train(build_cnn(), [], epochs=1, progress=False)


def test_same_data_same_order_same_losses():
    X, y = data.make_signals(512, seed=0)
    runs = [train(build_cnn(seed=0), batches_of(X, y, 32), progress=False) for _ in range(2)]
    np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-5)
