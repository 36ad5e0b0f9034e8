"""Colour preservation from Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer".

Two ways to keep the content's colours:
- colour histogram matching: recolour the style image so the mean and covariance of its
  pixel colours equal the content's, before the transfer (`match_color_histogram`);
- luminance-only transfer: run the transfer on luminance only (style luminance matched to
  the content's mean and spread), then take the colour (Cb, Cr) back from the content
  (`luminance`, `match_luminance`, `combine_luminance`).

All images are float32 numpy arrays, values 0..1: RGB as height x width x 3, luminance as
height x width. Colour space: full-range YCbCr on sRGB-encoded values, built on the BT.709
luma weights of protocol.raster (what the plug-in and GIMP use to turn colour into grey).
"""

from __future__ import annotations

import numpy as np

from protocol.raster import LUMA_WEIGHTS

_KR, _KG, _KB = LUMA_WEIGHTS
# Full-range YCbCr on those weights: Cb = (B - Y) / (2 (1 - Kb)), Cr = (R - Y) / (2 (1 - Kr)).
_RGB_TO_YCBCR = np.array(
    [
        [_KR, _KG, _KB],
        [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
        [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
    ],
    dtype=np.float64,
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
# Keeps covariance square roots finite for flat or grey images (rank-deficient covariance).
_COVARIANCE_EPSILON = 1e-5


def _check_rgb(image: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError("%s must be a height x width x 3 array, not shape %s." % (what, array.shape))
    return array


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range YCbCr: Y in 0..1, Cb and Cr centred on 0 (in -0.5..0.5)."""
    rgb = _check_rgb(rgb, "rgb")
    return (rgb.astype(np.float64) @ _RGB_TO_YCBCR.T).astype(np.float32)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_ycbcr, clamped to 0..1."""
    ycbcr = _check_rgb(ycbcr, "ycbcr")
    rgb = ycbcr.astype(np.float64) @ _YCBCR_TO_RGB.T
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Luma Y (BT.709 weights) of an RGB image: height x width, 0..1."""
    rgb = _check_rgb(rgb, "rgb")
    return (rgb.astype(np.float64) @ _RGB_TO_YCBCR[0]).astype(np.float32)


def match_luminance(source_y: np.ndarray, target_y: np.ndarray) -> np.ndarray:
    """Shift and scale source_y so its mean and standard deviation equal target_y's.

    The paper's luminance matching: the style's luminance is brought to the content's
    range so the transfer does not also move overall brightness and contrast.
    """
    source = np.asarray(source_y, dtype=np.float64)
    target = np.asarray(target_y, dtype=np.float64)
    if source.ndim != 2 or target.ndim != 2 or source.size == 0 or target.size == 0:
        raise ValueError("luminance images must be non-empty height x width arrays.")
    source_std = source.std()
    scale = target.std() / source_std if source_std > 1e-8 else 1.0
    matched = (source - source.mean()) * scale + target.mean()
    return np.clip(matched, 0.0, 1.0).astype(np.float32)


def combine_luminance(y: np.ndarray, chroma_from: np.ndarray) -> np.ndarray:
    """RGB image with luminance y and the chroma (Cb, Cr) of chroma_from (same size)."""
    y = np.asarray(y)
    chroma = rgb_to_ycbcr(chroma_from)
    if y.shape != chroma.shape[:2]:
        raise ValueError("luminance is %s but the colour image is %s." % (y.shape, chroma.shape[:2]))
    chroma[..., 0] = y
    return ycbcr_to_rgb(chroma)


def _matrix_power(covariance: np.ndarray, power: float) -> np.ndarray:
    """covariance ** power for a symmetric positive (semi-)definite 3x3 matrix."""
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, _COVARIANCE_EPSILON)
    return (vectors * values**power) @ vectors.T


def colour_moments(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean (3) and covariance (3 x 3) of an RGB image's pixel colours, float64."""
    pixels = _check_rgb(image, "image").reshape(-1, 3).astype(np.float64)
    covariance = np.cov(pixels, rowvar=False, bias=True) if len(pixels) > 1 else np.zeros((3, 3))
    return pixels.mean(axis=0), covariance


def mixed_moments(moments: list[tuple[np.ndarray, np.ndarray]],
                  weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a weighted mixture of colour distributions (weights summing to 1):
    the pixels of several style pictures taken together in those shares."""
    mean = sum(weight * m for (m, _), weight in zip(moments, weights))
    second = sum(weight * (c + np.outer(m, m)) for (m, c), weight in zip(moments, weights))
    return mean, second - np.outer(mean, mean)


def recolour(source: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Recolour source so its pixel colours have that mean and covariance.

    x' = A (x - mean_s) + mean_t with A = cov_t^(1/2) cov_s^(-1/2): the symmetric
    ("image analogies") transform the paper prefers to the Cholesky one, because it
    rotates the colours least. The result is clamped to 0..1.
    """
    source = _check_rgb(source, "source")
    pixels = source.reshape(-1, 3).astype(np.float64)
    source_mean, source_cov = colour_moments(source)
    eye = np.eye(3) * _COVARIANCE_EPSILON
    transform = _matrix_power(covariance + eye, 0.5) @ _matrix_power(source_cov + eye, -0.5)
    recoloured = (pixels - source_mean) @ transform.T + mean
    return np.clip(recoloured, 0.0, 1.0).reshape(source.shape).astype(np.float32)


def match_color_histogram(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Recolour source so its pixel colours have target's mean and covariance (recolour)."""
    return recolour(source, *colour_moments(_check_rgb(target, "target")))
