"""core/style_frame.py: the frame of a photographed painting is found and cut, nothing else is."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from engine_helpers import DATA, load_rgb
from PIL import Image

from core.style_frame import EDGE_TRIM, MARGIN_SHARE, MAX_DEPTH, CropBox, crop_frame, find_frame, style_region

ROOT = os.path.dirname(os.path.dirname(DATA))


def side_steps(rgb: np.ndarray) -> dict[str, float]:
    """Mean luma (0..255) of the outer 4 px minus the 4..16 px band, per side
    (benchmarks/border_step.py's definition)."""
    y = rgb[..., :3] @ np.array([0.299, 0.587, 0.114]) * 255.0
    return {"top": y[:4].mean() - y[4:16].mean(), "bottom": y[-4:].mean() - y[-16:-4].mean(),
            "left": y[:, :4].mean() - y[:, 4:16].mean(), "right": y[:, -4:].mean() - y[:, -16:-4].mean()}


def painting(height: int = 200, width: int = 160, seed: int = 0) -> np.ndarray:
    """A frameless 'painting': smooth blue-green colour fields with brush noise, values 0..1."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.2, 0.8, size=(6, 6, 3)).astype(np.float32)
    fields = np.stack([np.asarray(Image.fromarray(coarse[..., c], mode="F").resize((width, height),
                                                                                Image.BILINEAR))
                       for c in range(3)], axis=2)
    strokes = rng.uniform(-0.15, 0.15, size=(height, width, 3))
    return np.clip(fields * np.array([0.5, 0.7, 1.0]) + strokes, 0.0, 1.0).astype(np.float32)


def margin(side: int) -> int:
    return math.ceil(side * MARGIN_SHARE)


def framed(rgb: np.ndarray, width: int, colour: tuple[float, float, float],
           sides: str = "tblr") -> np.ndarray:
    """`rgb` with a band of `colour`, `width` px deep, painted over the given sides."""
    out = rgb.copy()
    if "t" in sides:
        out[:width] = colour
    if "b" in sides:
        out[-width:] = colour
    if "l" in sides:
        out[:, :width] = colour
    if "r" in sides:
        out[:, -width:] = colour
    return out


def whole(rgb: np.ndarray) -> CropBox:
    return CropBox(0, rgb.shape[0], 0, rgb.shape[1])


# --- synthetic frames: exact boxes -------------------------------------------------------


def test_black_mat_on_all_sides_is_cut_with_a_margin():
    rgb = framed(painting(200, 160), 8, (0.0, 0.0, 0.0))
    top, side = 8 + margin(200), 8 + margin(160)
    assert find_frame(rgb) == CropBox(top, 200 - top, side, 160 - side)


def test_black_mat_then_cream_line_is_cut_as_one_frame():
    rgb = framed(framed(painting(240, 300), 9, (0.93, 0.88, 0.75)), 6, (0.0, 0.0, 0.0))
    top, side = 9 + margin(240), 9 + margin(300)
    assert find_frame(rgb) == CropBox(top, 240 - top, side, 300 - side)


def test_a_strip_on_one_side_cuts_that_side_only():
    rgb = framed(painting(200, 160), 10, (0.9, 0.5, 0.3), sides="r")
    assert find_frame(rgb) == CropBox(0, 200, 0, 160 - 10 - margin(160))


def test_crop_frame_returns_the_painting_inside():
    base = painting(200, 160)
    rgb = framed(base, 8, (0.0, 0.0, 0.0))
    box = find_frame(rgb)
    cropped = crop_frame(rgb)
    assert cropped.shape == (box.bottom - box.top, box.right - box.left, 3)
    np.testing.assert_array_equal(cropped, base[box.top:box.bottom, box.left:box.right])


def test_a_frame_deeper_than_the_limit_is_painting_and_stays():
    # A dark band over 10 % of the height: a night sky or a dark field, not a mat.
    rgb = framed(painting(200, 160), 24, (0.02, 0.02, 0.05), sides="t")
    assert find_frame(rgb) == whole(rgb)


def test_no_side_is_ever_cut_beyond_the_limit():
    rng = np.random.default_rng(3)
    for _ in range(20):
        h, w = rng.integers(60, 300, size=2)
        depth = int(rng.integers(1, 30))
        rgb = framed(painting(int(h), int(w), seed=int(depth)), depth, tuple(rng.uniform(0, 1, 3)))
        box = find_frame(rgb)
        for cut, side in ((box.top, h), (h - box.bottom, h), (box.left, w), (w - box.right, w)):
            assert cut <= int(side * MAX_DEPTH) + margin(side)
            assert cut <= 0.1 * side


# --- no frame: nothing is cut ------------------------------------------------------------


def test_a_frameless_painting_is_not_cut():
    rgb = painting(200, 160)
    assert find_frame(rgb) == whole(rgb)
    assert crop_frame(rgb) is rgb


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_a_flat_colour_is_not_cut(value):
    rgb = np.full((120, 90, 3), value, dtype=np.float32)
    assert find_frame(rgb) == whole(rgb)


def test_a_vignette_is_not_a_frame():
    y, x = np.mgrid[0:200, 0:160]
    r = np.hypot((y - 100) / 100.0, (x - 80) / 80.0)
    rgb = np.repeat((0.8 - 0.2 * r)[..., None], 3, axis=2).astype(np.float32)
    assert find_frame(rgb) == whole(rgb)


def stripes(height: int, width: int, period: int, line: int, axis: int) -> np.ndarray:
    """White with black lines `line` px wide every `period` px, one starting at the edge."""
    coordinate = np.mgrid[0:height, 0:width][axis]
    dark = (coordinate % period) < line
    return np.repeat(np.where(dark, 0.0, 1.0)[..., None], 3, axis=2).astype(np.float32)


@pytest.mark.parametrize("period,line", [(20, 10), (16, 2), (40, 6)])
def test_textures_with_strong_edges_are_not_cut(period, line):
    grid = np.minimum(stripes(200, 160, period, line, 0), stripes(200, 160, period, line, 1))
    for rgb in (stripes(200, 160, period, line, 0), stripes(200, 160, period, line, 1), grid):
        assert find_frame(rgb) == whole(rgb)


def test_a_checkerboard_is_not_cut():
    y, x = np.mgrid[0:192, 0:256]
    board = ((y // 24 + x // 24) % 2).astype(np.float32)
    rgb = np.repeat(board[..., None], 3, axis=2)
    assert find_frame(rgb) == whole(rgb)


def test_a_subject_touching_part_of_an_edge_is_not_a_frame():
    rgb = painting(200, 160)
    rgb[:12, :70] = (0.95, 0.95, 0.9)  # a white shape along the left half of the top
    assert find_frame(rgb) == whole(rgb)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 200), (200, 3), (40, 40)])
def test_tiny_and_thin_pictures_are_never_cut(shape):
    rgb = framed(painting(*shape), 1, (0.0, 0.0, 0.0)) if min(shape) > 2 else painting(*shape)
    assert find_frame(rgb) == whole(rgb)


def test_a_thin_strip_is_cut_only_across_its_length():
    # 12 rows are too few to tell a frame from the painting; 500 columns are plenty.
    rgb = framed(painting(12, 500), 3, (0.0, 0.0, 0.0), sides="lr")
    assert find_frame(rgb) == CropBox(0, 12, 3 + margin(500), 500 - 3 - margin(500))


# --- real pictures -------------------------------------------------------------------------


def real(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def test_the_starry_night_loses_its_black_mat_and_light_line():
    rgb = real(os.path.join(ROOT, "benchmarks", "data", "starry_night.jpg"))  # 752 x 600
    box = find_frame(rgb)
    cuts = (box.top, 600 - box.bottom, box.left, 752 - box.right)
    # 8 px of black and a light line of about 6 px on every side; at most 8 % + margin.
    assert all(15 <= cut <= 8 + 0.08 * 752 for cut in cuts), cuts
    # The painting left behind has no dark band: its own border steps are small.
    steps = side_steps(crop_frame(rgb))
    assert all(abs(step) < 12 for step in steps.values()), steps
    assert all(step < -45 for step in side_steps(rgb).values())


def test_a_small_starry_night_is_cut_too():
    rgb = load_rgb("engine_starry_night_128.png")  # 128 x 102
    box = find_frame(rgb)
    assert min(box.top, 102 - box.bottom, box.left, 128 - box.right) >= 3, box


def test_the_scream_loses_the_bare_board_on_its_right_only():
    rgb = load_rgb("engine_the_scream_160.png")  # 126 x 160
    box = find_frame(rgb)
    assert (box.top, box.bottom, box.left) == (0, 160, 0)
    assert 4 <= 126 - box.right <= 10


@pytest.mark.parametrize("name", ["engine_shipwreck_160.png", "engine_astronaut_96.png",
                                  "engine_chelsea_96.png", "engine_coffee_96.png"])
def test_frameless_paintings_and_photos_are_not_cut(name):
    rgb = load_rgb(name)
    assert find_frame(rgb) == whole(rgb)


@pytest.mark.parametrize("path, framed", [("benchmarks/data/starry_night.jpg", True),
                                          ("examples/painting.jpg", True),
                                          ("benchmarks/data/astronaut.png", False),
                                          ("examples/photo.png", False)])
def test_full_size_pictures_in_this_repository(path, framed):
    """At full size too: the bundled Starry Night copies lose their frame, photos nothing."""
    rgb = real(os.path.join(ROOT, path))
    h, w = rgb.shape[:2]
    box = find_frame(rgb)
    cuts = (box.top, h - box.bottom, box.left, w - box.right)
    if framed:
        assert min(cuts) >= 10 and max(cuts) <= 0.09 * max(h, w), cuts
    else:
        assert cuts == (0, 0, 0, 0)


# --- the style region: frame and a thin edge cut -----------------------------------------


def test_the_style_region_is_the_painting_less_a_thin_edge():
    rgb = painting(200, 160)
    region = style_region(rgb)
    rows, columns = int(200 * EDGE_TRIM), int(160 * EDGE_TRIM)
    np.testing.assert_array_equal(region, rgb[rows:200 - rows, columns:160 - columns])
    framed_rgb = framed(painting(200, 160), 8, (0.0, 0.0, 0.0))
    box, inner = find_frame(framed_rgb), style_region(framed_rgb)
    assert inner.shape[0] < box.bottom - box.top and inner.shape[1] < box.right - box.left


def test_the_screams_light_top_fringe_is_cut_with_the_edge():
    rgb = real(os.path.join(ROOT, "benchmarks", "data", "the_scream.jpg"))
    # The top rows fade from a pale yellow fringe (red minus blue about 90 levels) into the
    # orange sky (about 165); find_frame keeps them, the style region starts in the sky.
    def top_warmth(picture: np.ndarray) -> float:
        return float((picture[:4, :, 0] - picture[:4, :, 2]).mean() * 255.0)

    assert top_warmth(crop_frame(rgb)) < 100
    assert top_warmth(style_region(rgb)) > 130


def test_a_tiny_style_is_not_trimmed():
    rgb = painting(30, 30)
    assert style_region(rgb) is rgb
