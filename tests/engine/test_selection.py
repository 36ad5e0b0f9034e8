"""Selection-aware runs and start pictures: stylize(mask=..., init_picture=...).

A mask's bounding box plus a margin is worked on, at the whole layer's scale; outside the
mask the content comes back sample for sample; feathered masks blend; an empty mask is a
plain error. A start picture replaces the init option at every scale.
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import load_rgb, random_samples

from core import api, optimize, selection
from core.errors import InputError
from core.image_read import picture_from_samples
from core.image_write import samples_from_picture
from core.picture import Picture
from core.style_frame import style_region

FAST = {"steps": 4, "scales": 1, "device": "cpu"}


def photo(side: int = 96) -> Picture:
    return Picture(rgb=load_rgb("engine_astronaut_96.png", side))


def painting() -> Picture:
    return Picture(rgb=load_rgb("engine_starry_night_128.png", 64))


def run(content, mask=None, options=None, **kwargs):
    events = []
    result = api.stylize(content, [painting()], {**FAST, "size": 48, **(options or {})}, mask=mask,
                         progress=events.append, **kwargs)
    return result, events[0]


# -- the box worked on -------------------------------------------------------------------

def test_box_is_the_selection_plus_a_margin_of_context():
    mask = np.zeros((400, 600), np.float32)
    mask[100:180, 200:360] = 0.5  # 80 x 160: the margin is a sixteenth of 160 = 10 px...
    assert selection.selected_box(mask) == (100, 180, 200, 360)
    assert selection.working_box(mask, 4.0) == (90, 190, 190, 370)
    # ...but at least MIN_MARGIN (16) working pixels: at half scale, 32 picture pixels.
    assert selection.working_box(mask, 0.5) == (68, 212, 168, 392)


def test_box_of_a_selection_touching_the_edges_is_clipped_to_the_picture():
    mask = np.zeros((100, 120), np.float32)
    mask[0:10, 100:120] = 1.0
    assert selection.working_box(mask, 1.0) == (0, 26, 84, 120)
    mask[:] = 0
    mask[99, 0] = 0.01  # one barely selected pixel still counts
    assert selection.working_box(mask, 1.0) == (83, 100, 0, 17)


def test_empty_selection_is_a_plain_error(random_vgg):
    content = photo()
    with pytest.raises(InputError, match="The selection is empty"):
        run(content, mask=np.zeros((96, 96), np.float32))


def test_selection_is_worked_on_at_the_whole_layers_scale(random_vgg):
    content = photo()  # 96 x 96, working size 48: half scale
    mask = np.zeros((96, 96), np.float32)
    mask[60:90, 10:40] = 1.0
    _, whole_start = run(content)
    assert (whole_start["width"], whole_start["height"]) == (48, 48)
    box = selection.working_box(mask, 0.5)
    assert box == (28, 96, 0, 72)  # 30 px box, margin 16 working px = 32 picture px, clipped
    _, start = run(content, mask=mask)
    assert (start["width"], start["height"]) == (36, 34)  # the box at half scale


def test_selection_gets_the_whole_layers_brush_size(random_vgg, monkeypatch):
    """Style pictures are sized by the whole layer's pixel count, not the box's."""
    sizes = []
    original = optimize.style_size

    def recording(style, scale, style_scale, area=1.0):
        size = original(style, scale, style_scale, area)
        sizes.append(size)
        return size

    monkeypatch.setattr(optimize, "style_size", recording)
    content = Picture(rgb=load_rgb("engine_shipwreck_160.png", 160))
    height, width = content.rgb.shape[:2]
    run(content, options={"size": 0})
    whole = sizes[-1]
    mask = np.zeros((height, width), np.float32)
    mask[40:80, 40:100] = 1.0
    run(content, mask=mask, options={"size": 0})
    assert all(abs(a - b) <= 1 for a, b in zip(sizes[-1], whole)), (sizes[-1], whole)


# -- what comes back ---------------------------------------------------------------------

@pytest.mark.parametrize("bits,channels", [(8, 3), (16, 3), (16, 2), (8, 4)])
def test_outside_the_selection_comes_back_sample_for_sample(random_vgg, bits, channels):
    samples = random_samples(channels, bits, height=120, width=160)
    content = picture_from_samples(samples, bits)
    mask = np.zeros((120, 160), np.float32)
    mask[20:50, 30:70] = 1.0
    mask[30:40, 40:50] = 0.0  # a hole inside the box stays too
    result, start = run(content, mask=mask, options={"size": 80})
    assert start["width"] < 80  # a part was worked on, and pasted back
    written = samples_from_picture(result)
    assert written.dtype == samples.dtype and written.shape == samples.shape
    outside = mask == 0
    assert np.array_equal(written[outside], samples[outside])
    inside = mask == 1
    assert not np.array_equal(written[inside], samples[inside])  # it did paint


def test_feathered_edge_blends_smoothly(random_vgg):
    content = photo()
    mask = np.zeros((96, 96), np.float32)
    mask[16:80, 16:40] = 1.0
    mask[16:80, 40:72] = np.linspace(1.0, 0.0, 34, dtype=np.float32)[1:-1]  # feather to the right
    result, _ = run(content, mask=mask)
    change = np.abs(result.rgb - content.rgb).mean(axis=(0, 2))  # per column
    assert np.array_equal(result.rgb[:, 72:], content.rgb[:, 72:])
    full, half, faint = change[16:40].mean(), change[50:60].mean(), change[66:72].mean()
    assert full > half > faint > 0
    # No step at the feather's start or end: neighbouring columns change by similar amounts.
    steps = np.abs(np.diff(change[38:74]))
    assert steps.max() < 0.5 * full


def test_mask_touching_the_edge(random_vgg):
    content = photo()
    mask = np.zeros((96, 96), np.float32)
    mask[:, 70:] = 1.0  # the right edge, top to bottom
    result, start = run(content, mask=mask)
    assert start["width"] < start["height"]  # only the right part was worked on
    assert np.array_equal(result.rgb[:, :70], content.rgb[:, :70])
    assert np.abs(result.rgb[:, 70:] - content.rgb[:, 70:]).mean() > 0.005


def test_whole_selection_is_the_whole_layer_run(random_vgg):
    content = photo()
    plain, _ = run(content)
    selected, _ = run(content, mask=np.ones((96, 96), np.float32))
    assert np.array_equal(plain.rgb, selected.rgb)


# -- start picture -----------------------------------------------------------------------

QUIET = {"content_weight": 0.0, "style_weight": 0.0, "edge_weight": 0.0}  # no loss: the start comes back


def test_start_picture_is_where_every_scale_starts(random_vgg):
    content = Picture(rgb=load_rgb("engine_shipwreck_160.png"))  # 160 x 110: two scales fit
    start = Picture(rgb=np.ascontiguousarray(content.rgb[::-1]))  # upside down
    for options in ({"size": 0, "scales": 1}, {"size": 0, "scales": 2, "steps": 4}):
        result, first = run(content, options=dict(QUIET, **options), init_picture=start)
        assert first["scales"] == options["scales"]
        assert np.abs(result.rgb - start.rgb).max() < 1e-4, options
    result, _ = run(content, options=dict(QUIET, size=0, init="content"), init_picture=None)
    assert np.abs(result.rgb - content.rgb).max() < 1e-4


def _colour_moments(rgb):
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False, bias=True)


def test_palette_start_is_the_content_in_the_styles_colours(random_vgg):
    # No loss: the start comes back. The painting's colours, the photo's picture.
    content = photo()
    result, _ = run(content, options=dict(QUIET, size=0, init="palette"))
    style_mean, style_cov = _colour_moments(style_region(painting().rgb))  # as the engine sees it
    mean, cov = _colour_moments(result.rgb)
    content_mean, _ = _colour_moments(content.rgb)
    assert np.abs(mean - style_mean).max() < 0.01 < np.abs(content_mean - style_mean).max()
    np.testing.assert_allclose(cov, style_cov, atol=0.002)
    # The photo's picture: its luma still follows the photo's, pixel by pixel.
    assert np.corrcoef(result.rgb.mean(axis=2).ravel(), content.rgb.mean(axis=2).ravel())[0, 1] > 0.95


def test_palette_start_keeps_the_content_colours_when_asked_to(random_vgg):
    # With preserve_color the palette start is the content as it is.
    content = photo()
    for mode in ("histogram", "luminance"):
        result, _ = run(content, options=dict(QUIET, size=0, init="palette", preserve_color=mode))
        assert np.abs(result.rgb - content.rgb).max() < 1e-4, mode


def test_palette_start_mixes_the_styles_colours_in_the_blend(random_vgg):
    content = photo()
    blue = Picture(rgb=np.tile(np.linspace(0.1, 0.6, 64, dtype=np.float32)[:, None, None], (1, 64, 3))
                   * np.array([0.3, 0.5, 1.0], np.float32))
    alone, _ = run(content, options=dict(QUIET, size=0, init="palette"))

    def blended(mix):
        options = {**FAST, **QUIET, "size": 0, "init": "palette", "style_blend": mix}
        return api.stylize(content, [painting(), blue], options).rgb

    np.testing.assert_allclose(blended([1.0, 0.0]), alone.rgb, atol=1e-5)
    all_blue = blended([0.0, 1.0])  # blue's mean colour
    assert all_blue[..., 2].mean() > all_blue[..., 0].mean() + 0.1


def test_start_picture_keeps_the_selection_rule(random_vgg):
    content = photo(64)
    start = Picture(rgb=np.zeros_like(content.rgb))
    mask = np.zeros((64, 64), np.float32)
    mask[10:30, 10:30] = 1.0
    result, _ = run(content, mask=mask, options=dict(QUIET, size=0), init_picture=start)
    assert np.array_equal(result.rgb[mask == 0], content.rgb[mask == 0])
    assert result.rgb[mask == 1].max() < 1e-4


def test_start_picture_of_another_size_is_refused(random_vgg):
    with pytest.raises(InputError, match="starting picture is 32x32 but the content is 64x64"):
        run(photo(64), init_picture=Picture(rgb=np.zeros((32, 32, 3), np.float32)))
