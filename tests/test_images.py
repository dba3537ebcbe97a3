import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import images  # noqa: E402


def test_uint8_is_scaled_and_single_image_gets_a_batch_axis():
    img = np.full((4, 5, 3), 255, np.uint8)
    out = images.as_display_images(img)
    assert out.shape == (1, 4, 5, 3) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0)


def test_floats_in_range_pass_and_rounding_is_clipped():
    x = np.linspace(0, 1, 2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3)
    x[0, 0, 0, 0] = -1e-5  # interpolation rounding
    out = images.as_display_images(x)
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((2, 4, 4)), r"shape \(2, 4, 4\)"),  # a grey image without channel axis
        (np.zeros((2, 4, 4, 1)), "RGB"),
        (np.zeros((0, 4, 4, 3)), "no images"),
        (np.full((1, 4, 4, 3), 255.0), r"rescale first"),  # forgot the 1/255
        (np.full((1, 4, 4, 3), np.nan), r"\[0, 1\]"),
        (np.zeros((1, 4, 4, 3), np.int32), "dtype int32"),
    ],
)
def test_bad_images_are_refused_with_a_reason(bad, match):
    with pytest.raises(ValueError, match=match):
        images.as_display_images(bad)


def test_grid_has_a_cell_per_column_and_row_labels():
    rows = {
        "original": np.zeros((4, 8, 8, 3), np.uint8),
        "augmented": np.ones((3, 8, 8, 3), np.float32),
    }
    fig = images.image_grid(rows, column_titles=["a", "b"], title="t")
    axes = fig.axes
    assert len(axes) == 2 * 4
    assert axes[0].get_ylabel() == "original" and axes[4].get_ylabel() == "augmented"
    assert axes[0].get_title() == "a" and axes[2].get_title() == ""
    assert len(axes[4 + 3].images) == 0  # the shorter row leaves its last cell blank
    assert len(axes[4 + 2].images) == 1
    plt.close(fig)


def test_grid_refuses_empty_rows_and_too_many_titles():
    with pytest.raises(ValueError, match="nothing to show"):
        images.image_grid({})
    with pytest.raises(ValueError, match="3 column titles for 2 columns"):
        images.image_grid({"x": np.zeros((2, 4, 4, 3), np.uint8)}, column_titles=["a", "b", "c"])
