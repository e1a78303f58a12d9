"""Categorical example on scikit-learn's bundled digits (offline)."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits example needs scikit-learn's bundled data")

from neuro_igc.benchmark import digits_igc, plot_digits_igc  # noqa: E402


@pytest.fixture(scope="module")
def quick():
    return digits_igc(epochs=3, baselines=4, n_steps=4, progress=False)


def test_per_class_maps_sum_to_the_class_correlations(quick):
    assert quick.maps.shape == (10, 8, 8) and quick.mean_digits.shape == (10, 8, 8)
    np.testing.assert_allclose(quick.maps.reshape(10, -1).sum(1), quick.correlation, atol=0.05)
    assert quick.accuracy > 0.5  # far above chance (0.1) after a few epochs
    assert (quick.correlation > 0).all()


def test_digit_figure(tmp_path, quick):
    path = plot_digits_igc(quick, tmp_path / "digits.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="'level'"):
        plot_digits_igc(quick, tmp_path / "bad.png", level=1.5)


def test_bad_epochs():
    with pytest.raises(ValueError, match="'epochs'"):
        digits_igc(epochs=0)


@pytest.mark.slow
def test_trained_classifier_maps_follow_the_digits():
    res = digits_igc(epochs=30, progress=False)
    assert res.accuracy > 0.93
    # each class map correlates positively with its own mean digit more than with the others' on average
    own = [np.corrcoef(res.maps[k].ravel(), res.mean_digits[k].ravel())[0, 1] for k in range(10)]
    assert np.mean(own) > 0
