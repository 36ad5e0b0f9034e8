"""Colour preservation maths (core.color)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import color


def _mid_range_image(seed, height=24, width=32, mix=None):
    """Random colours kept away from 0 and 1 so clamping does not disturb the statistics."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(height, width, 3))
    if mix is not None:
        base = base @ np.asarray(mix).T
    base = (base - base.mean()) / (base.std() * 10) + 0.5
    return np.clip(base, 0.0, 1.0).astype(np.float32)


def _stats(image):
    pixels = image.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def test_histogram_match_gives_target_mean_and_covariance():
    source = _mid_range_image(1, mix=[[1, 0.5, 0], [0, 1, 0.2], [0.3, 0, 1]])
    target = _mid_range_image(2, mix=[[1, 0, 0], [0.8, 0.4, 0], [0, 0.2, 0.6]]) * 0.8 + 0.1
    result = color.match_color_histogram(source, target)
    assert result.shape == source.shape and result.dtype == np.float32
    mean, cov = _stats(result)
    target_mean, target_cov = _stats(target)
    np.testing.assert_allclose(mean, target_mean, atol=1e-4)
    np.testing.assert_allclose(cov, target_cov, atol=2e-5)
    # The result is really different from the source (the test can fail).
    assert np.abs(result - source).mean() > 0.01


def test_histogram_match_keeps_spatial_structure():
    source = _mid_range_image(3)
    target = _mid_range_image(4) * 0.5 + 0.3
    result = color.match_color_histogram(source, target)
    # An affine colour map: the correlation of each channel with the source's is strong.
    for channel in range(3):
        correlation = np.corrcoef(result[..., channel].ravel(), source[..., channel].ravel())[0, 1]
        assert correlation > 0.5


def test_histogram_match_of_identical_images_is_identity():
    image = _mid_range_image(5)
    np.testing.assert_allclose(color.match_color_histogram(image, image), image, atol=1e-4)


def test_histogram_match_survives_flat_and_grey_images():
    flat = np.full((8, 8, 3), 0.25, dtype=np.float32)
    grey = np.repeat(_mid_range_image(6)[..., :1], 3, axis=2)
    target = _mid_range_image(7)
    for source in (flat, grey):
        result = color.match_color_histogram(source, target)
        assert np.isfinite(result).all()
        assert result.min() >= 0.0 and result.max() <= 1.0
    # A flat source takes the target's mean colour.
    np.testing.assert_allclose(color.match_color_histogram(flat, target)[0, 0],
                               target.reshape(-1, 3).mean(axis=0), atol=1e-3)


def test_histogram_match_clamps_to_unit_range():
    source = np.random.default_rng(8).random((16, 16, 3)).astype(np.float32)
    target = np.random.default_rng(9).random((16, 16, 3)).astype(np.float32) * 3 - 1
    result = color.match_color_histogram(source, target)
    assert result.min() >= 0.0 and result.max() <= 1.0


def test_luminance_uses_the_bt709_weights_gimp_uses():
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]], dtype=np.float32)
    np.testing.assert_allclose(color.luminance(rgb), [[0.2126, 0.7152, 0.0722, 1.0]], atol=1e-6)


def test_match_luminance_gives_target_mean_and_std():
    rng = np.random.default_rng(10)
    source = (rng.random((20, 30)) * 0.4 + 0.1).astype(np.float32)
    target = (rng.random((10, 12)) * 0.2 + 0.5).astype(np.float32)
    matched = color.match_luminance(source, target)
    assert matched.shape == source.shape
    assert matched.mean() == pytest.approx(target.mean(), abs=1e-5)
    assert matched.std() == pytest.approx(target.std(), abs=1e-5)


def test_match_luminance_of_flat_source_shifts_only():
    matched = color.match_luminance(np.full((4, 4), 0.2, np.float32), np.full((3, 3), 0.7, np.float32))
    np.testing.assert_allclose(matched, 0.7, atol=1e-6)


def test_combine_luminance_keeps_chroma_and_takes_luminance():
    chroma_source = _mid_range_image(11)
    y = color.luminance(_mid_range_image(12))
    combined = color.combine_luminance(y, chroma_source)
    ycbcr = color.rgb_to_ycbcr(combined)
    expected = color.rgb_to_ycbcr(chroma_source)
    # Exact wherever the new colour is inside the RGB cube; outside it is clamped.
    inside = ((combined > 0) & (combined < 1)).all(axis=2)
    assert inside.mean() > 0.99
    np.testing.assert_allclose(ycbcr[..., 0][inside], y[inside], atol=1e-5)
    np.testing.assert_allclose(ycbcr[..., 1:][inside], expected[..., 1:][inside], atol=1e-5)


def test_combine_with_own_luminance_round_trips():
    image = _mid_range_image(13)
    np.testing.assert_allclose(color.combine_luminance(color.luminance(image), image), image, atol=1e-5)


def test_combine_luminance_refuses_mismatched_sizes():
    with pytest.raises(ValueError):
        color.combine_luminance(np.zeros((4, 5), np.float32), np.zeros((5, 4, 3), np.float32))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1, width=32), min_size=3, max_size=3))
def test_ycbcr_round_trip(pixel):
    rgb = np.array(pixel, dtype=np.float32).reshape(1, 1, 3)
    np.testing.assert_allclose(color.ycbcr_to_rgb(color.rgb_to_ycbcr(rgb)), rgb, atol=1e-5)


def test_mixed_moments_are_those_of_the_pictures_taken_together():
    first = _mid_range_image(11, mix=[[1, 0.5, 0], [0, 1, 0.2], [0.3, 0, 1]])
    second = _mid_range_image(12, height=48) * 0.5 + 0.3  # twice the pixels: a share of 2/3
    together = np.concatenate([first, second], axis=0)
    mean, cov = color.mixed_moments([color.colour_moments(first), color.colour_moments(second)],
                                    [1 / 3, 2 / 3])
    np.testing.assert_allclose(mean, _stats(together)[0], atol=1e-9)
    np.testing.assert_allclose(cov, _stats(together)[1], atol=1e-9)
    # Not just one of the two (the test can fail).
    assert np.abs(cov - _stats(second)[1]).max() > 1e-3
