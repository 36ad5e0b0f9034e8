"""stylize(): the engine's contract, on small real images (random weights unless stated)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import load_rgb

from core import api, optimize, planning, precision, tiles
from core.color import rgb_to_ycbcr
from core.errors import Cancelled, DeviceError, InputError, OptionsError, OutOfMemory
from core.picture import Picture
from protocol.events import EVENT_FIELDS, decode_event, encode_event
from protocol.options import OptionError, validate_options

FAST = {"size": 48, "steps": 6, "scales": 1}


def photo(side: int = 48, name: str = "engine_astronaut_96.png") -> Picture:
    return Picture(rgb=load_rgb(name, side))


def painting(side: int = 64) -> Picture:
    return Picture(rgb=load_rgb("engine_starry_night_128.png", side))


def run(options=None, content=None, styles=None, **kwargs):
    events = []
    result = api.stylize(content or photo(), styles or [painting()], dict(FAST, **(options or {})),
                         progress=events.append, **kwargs)
    return result, events


def test_result_keeps_size_alpha_bits_and_grey_flag(random_vgg):
    rgb = load_rgb("engine_chelsea_96.png", 60)  # 60x40
    alpha = np.random.default_rng(1).integers(0, 65536, size=rgb.shape[:2], dtype=np.uint16)
    content = Picture(rgb=rgb, alpha=alpha.copy(), bits=16, grey=True)
    result, _ = run(content=content)
    assert result.rgb.shape == rgb.shape and result.rgb.dtype == np.float32
    assert result.alpha.dtype == np.uint16 and np.array_equal(result.alpha, alpha)
    assert result.bits == 16 and result.grey is True
    assert result.rgb.min() >= 0.0 and result.rgb.max() <= 1.0
    assert np.abs(result.rgb - rgb).mean() > 0.005  # it did paint


def test_events_follow_the_protocol_schema_and_count_steps(random_vgg):
    _, events = run({"steps": 9, "scales": 2, "size": 96}, content=photo(96))
    start, progress = events[0], events[1:]
    assert start["event"] == "start"
    assert set(EVENT_FIELDS["start"]) <= set(start)
    assert start["total"] == 9 and start["scales"] == 2
    assert (start["width"], start["height"]) == (96, 96)
    assert [event["step"] for event in progress] == list(range(1, 10))
    scales = [event["scale"] for event in progress]
    assert scales == sorted(scales) and scales[0] == 1 and scales[-1] == 2
    # coarse scale gets more steps than the fine one
    assert scales.count(1) > scales.count(2)
    for event in progress:
        fields = {name: event[name] for name in EVENT_FIELDS["progress"]}
        assert decode_event(encode_event("progress", **fields))["step"] == event["step"]
        assert set(event["losses"]) == {"content", "style", "tv", "edge", "total"}
        assert event["eta"] is None or event["eta"] >= 0
    assert progress[-1]["eta"] == 0


def test_optimisation_lowers_the_loss(random_vgg):
    _, events = run({"steps": 12, "tv_weight": 0.1})
    totals = [event["losses"]["total"] for event in events[1:]]
    assert totals[-1] < 0.5 * totals[0]
    assert events[-1]["losses"]["tv"] > 0


def test_noise_init_is_reproducible_with_a_seed(random_vgg):
    options = {"init": "noise", "seed": 7, "steps": 4}
    first, _ = run(options)
    second, _ = run(options)
    other, _ = run(dict(options, seed=8))
    assert np.array_equal(first.rgb, second.rgb)
    assert not np.array_equal(first.rgb, other.rgb)


def test_content_init_is_reproducible_and_adam_works(random_vgg):
    first, _ = run({"optimizer": "adam", "learning_rate": 5.0})
    second, _ = run({"optimizer": "adam", "learning_rate": 5.0})
    assert np.array_equal(first.rgb, second.rgb)
    assert np.abs(first.rgb - photo().rgb).mean() > 0.002


def test_luminance_mode_keeps_the_content_chroma(random_vgg):
    content = photo()
    result, _ = run({"preserve_color": "luminance", "steps": 8}, content=content)
    got, want = rgb_to_ycbcr(result.rgb), rgb_to_ycbcr(content.rgb)
    assert np.abs(got[..., 1:] - want[..., 1:]).mean() < 0.01
    assert np.abs(got[..., 0] - want[..., 0]).mean() > 0.01  # luminance did change
    plain, _ = run({"steps": 8}, content=content)
    assert np.abs(rgb_to_ycbcr(plain.rgb)[..., 1:] - want[..., 1:]).mean() > 0.02


def test_histogram_mode_keeps_the_content_palette(random_vgg):
    content = photo()
    result, _ = run({"preserve_color": "histogram", "steps": 8}, content=content)
    plain, _ = run({"steps": 8}, content=content)
    target = content.rgb.reshape(-1, 3).mean(0)
    assert np.abs(result.rgb.reshape(-1, 3).mean(0) - target).sum() < \
        np.abs(plain.rgb.reshape(-1, 3).mean(0) - target).sum()


def test_two_styles_blend(random_vgg):
    rng = np.random.default_rng(0)
    red = Picture(rgb=np.clip(np.array([0.9, 0.1, 0.1]) + 0.1 * rng.standard_normal((48, 48, 3)), 0, 1)
                  .astype(np.float32))
    blue = Picture(rgb=np.clip(np.array([0.1, 0.1, 0.9]) + 0.1 * rng.standard_normal((48, 48, 3)), 0, 1)
                   .astype(np.float32))
    # Adam: its steady steps make the comparison independent of L-BFGS curvature luck.
    options = {"steps": 12, "init": "noise", "content_weight": 0.0, "optimizer": "adam", "learning_rate": 8.0}

    def redness(blend):
        result, _ = run(dict(options, style_blend=blend), styles=[red, blue])
        return float((result.rgb[..., 0] - result.rgb[..., 2]).mean())

    only_red, half, only_blue = redness([1, 0]), redness([1, 1]), redness([0, 1])
    assert only_red > half + 0.05 and half > only_blue + 0.05


def test_mask_keeps_unmasked_pixels(random_vgg):
    content = photo()
    mask = np.zeros(content.rgb.shape[:2], np.float32)
    mask[:, 24:] = 1.0
    result, _ = run(content=content, mask=mask)
    assert np.array_equal(result.rgb[:, :20], content.rgb[:, :20])
    assert np.abs(result.rgb[:, 28:] - content.rgb[:, 28:]).mean() > 0.005


def test_preview_and_stop(random_vgg):
    seen = []
    api.stylize(photo(), [painting()], dict(FAST, steps=6),
                preview=lambda picture, step: seen.append((picture.rgb.shape, step)), preview_every=2)
    assert seen == [((48, 48, 3), 2), ((48, 48, 3), 4), ((48, 48, 3), 6)]
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled) as error:
        run(should_stop=stop)
    assert error.value.kind == "cancelled"


def test_tiny_and_thin_layers_just_work(random_vgg):
    tiny = Picture(rgb=np.full((3, 5, 3), 0.5, np.float32))
    result, events = run(content=tiny)
    assert result.rgb.shape == (3, 5, 3)
    assert min(events[0]["width"], events[0]["height"]) >= api.MIN_WORKING_SIDE
    strip = Picture(rgb=np.random.default_rng(2).random((2, 40, 3), dtype=np.float32))
    assert run(content=strip)[0].rgb.shape == (2, 40, 3)


def test_working_size_never_upsamples():
    assert api.working_size(300, 451, 0) == (300, 451)
    assert api.working_size(300, 451, 1024) == (300, 451)
    assert api.working_size(300, 451, 200) == (133, 200)
    assert api.working_size(10, 20, 0) == (32, 64)
    with pytest.raises(InputError, match="too thin"):
        api.working_size(1, 20000, 0)


def test_bad_requests_are_clear_errors(random_vgg):
    with pytest.raises(OptionsError, match="steps"):
        run({"steps": 0})
    with pytest.raises(OptionsError, match="style_blend"):
        run({"style_blend": [1, 2]})
    with pytest.raises(InputError, match="mask"):
        run(mask=np.ones((3, 3), np.float32))
    with pytest.raises(InputError, match="style"):
        api.stylize(photo(), [], FAST)
    with pytest.raises(InputError, match="empty"):
        api.stylize(Picture(rgb=np.zeros((0, 4, 3), np.float32)), [painting()], FAST)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forced_cuda_without_gpu_is_a_device_error(random_vgg):
    with pytest.raises(DeviceError, match="CUDA was requested"):
        run({"device": "cuda"})


def test_out_of_memory_says_what_to_lower(random_vgg, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")

    monkeypatch.setattr(optimize.Engine, "run", explode)
    with pytest.raises(OutOfMemory, match="lower size to [0-9]+ px.*preset preview") as error:
        run()
    assert error.value.kind == "memory"


def test_tiled_scale_covers_the_image_without_seams(random_vgg):
    content = photo(96)
    result, events = run({"size": 96, "tile_size": 48 * 16 // 16 + 16, "steps": 8}, content=content)
    assert result.rgb.shape == (96, 96, 3) and np.isfinite(result.rgb).all()
    assert [event["step"] for event in events[1:]] == list(range(1, 9))
    # Every tile painted: no region is left as the content.
    change = np.abs(result.rgb - content.rgb).mean(axis=2)
    assert (change[::16, ::16] > 0.003).mean() > 0.8


def test_tile_grid_and_step_split():
    grid = tiles.tile_grid(300, 200, 128, 10)
    covered = np.zeros((300, 200), bool)
    for tile in grid:
        covered[tile.top:tile.top + tile.height, tile.left:tile.left + tile.width] = True
        assert tile.height <= 128 and tile.width <= 128
    assert covered.all() and sum(tile.steps for tile in grid) == 10
    assert planning.split_steps(60, 3) == [34, 17, 9]
    assert sum(planning.split_steps(7, 3)) == 7 and min(planning.split_steps(3, 3)) == 1
    assert planning.scale_sizes(512, 384, 3) == [(128, 96), (256, 192), (512, 384)]
    assert planning.scale_sizes(90, 90, 3) == [(90, 90)]  # 45 px is too small to help


def test_step_ratio_option_splits_the_steps_between_scales():
    def steps(options):
        settings = optimize.Settings.from_options(validate_options(options))
        return [scale.steps for scale in planning.plan(341, 512, settings.steps, settings.scales, 0,
                                                        10 ** 9, settings.step_ratio)]

    assert steps({"preset": "preview"}) == [84, 21, 5]  # colours settle at the cheap scale
    assert steps({"preset": "balanced"}) == [114, 57, 29]
    assert steps({"preset": "balanced", "step_ratio": 1}) == [67, 67, 66]
    with pytest.raises(OptionError):
        validate_options({"step_ratio": 0.5})


def test_blended_tile_fades_over_the_overlap():
    image = torch.zeros(1, 3, 64, 128)
    tile = tiles.Tile(0, 64, 64, 64, 1)
    out = tiles.blend_tile(image, torch.full((1, 3, 64, 64), 100.0), tile)
    row = out[0, 0, 10]
    assert row[:64].eq(0).all()
    assert 0 < row[64] < row[70] < row[100] == 100.0  # ramps up from the inner edge
    assert row[-1] == 100.0  # no fade at the picture's own border


@pytest.mark.parametrize("init", ["noise", "content"])
@pytest.mark.parametrize("style_loss", ["gram", "w2"])
def test_real_weights_lower_style_and_content_loss_on_real_images(init, style_loss):
    # The real embedded VGG-19 on a real photo and painting (this is what users get).
    content = photo(64)
    _, events = run({"size": 64, "steps": 12, "init": init, "weights": "embedded",
                     "style_loss": style_loss}, content=content, styles=[painting(80)])
    first, last = events[1]["losses"], events[-1]["losses"]
    # The Gram loss squares the differences of second moments, W2 is a squared distance of
    # the distributions (linear in covariance changes): the same progress shows as a
    # smaller drop (measured from noise: Gram 0.2x, W2 0.35x of the first step's).
    assert last["style"] < (0.3 if style_loss == "gram" else 0.5) * first["style"]
    if init == "noise":
        # At 64 px the style term dominates: the content loss of the noise start stays about
        # where it was (within +-3% over 12-30 steps, float32 or bfloat16), it must not grow.
        assert last["content"] < 1.1 * first["content"]


def test_network_precision_by_device(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.network_precision(torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    assert precision.network_precision(torch.device("cpu")) is None
    assert precision.network_precision(torch.device("mps")) is None
    # CUDA: bfloat16 only where the GPU has it natively; float16 would underflow gradients.
    seen, answers = [], [True, False]

    def native_bf16(including_emulation=True):
        seen.append(including_emulation)
        return answers.pop(0)

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", native_bf16)
    assert precision.network_precision(torch.device("cuda")) == torch.bfloat16
    assert precision.network_precision(torch.device("cuda")) is None
    assert seen == [False, False]


@pytest.mark.parametrize("vendor, flags, faster", [
    ("GenuineIntel", "fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile", True),
    ("AuthenticAMD", "fpu avx2 avx512f avx512_bf16", True),
    ("GenuineIntel", "fpu avx2 avx512f avx512_bf16", False),  # measured slower than float32
    ("AuthenticAMD", "fpu avx2", False),
])
def test_bf16_only_on_cpus_where_it_was_measured_faster(vendor, flags, faster):
    block = "processor\t: %d\nvendor_id\t: %s\nmodel name\t: x\nflags\t\t: %s\n\n"
    cpuinfo = block % (0, vendor, flags) + block % (1, "Other", "amx_bf16")
    assert precision.bf16_faster_on(cpuinfo) is faster


@pytest.mark.parametrize("bf16", [True, False])
def test_16_bit_network_keeps_target_statistics_losses_and_pixels_float32(random_vgg, monkeypatch, bf16):
    # Forced either way, whatever this CPU has: bfloat16 works (slowly) everywhere.
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: bf16)
    from core.vgg import build_network

    settings = optimize.Settings.from_options(validate_options({"steps": 4, "scales": 1}))
    engine = optimize.Engine(build_network("embedded", settings.layers), torch.device("cpu"), settings)
    assert engine.half is bf16
    image = torch.rand(1, 3, 48, 48) * 255
    assert engine.features(image)["relu3_1"].dtype == (torch.bfloat16 if bf16 else torch.float32)
    assert all(stats.gram.dtype == torch.float32 and stats.mean.dtype == torch.float32
               for stats in engine.style_statistics(image).values())
    result, events = run({"steps": 6})
    assert result.rgb.dtype == np.float32 and np.isfinite(result.rgb).all()
    assert events[-1]["losses"]["style"] < events[1]["losses"]["style"]


def test_bf16_step_matches_float32_step(random_vgg, monkeypatch):
    # The same few steps with the network in bfloat16 and in float32 end close together.
    results = {}
    for bf16 in (True, False):
        monkeypatch.setattr(precision, "cpu_supports_bf16", lambda bf16=bf16: bf16)
        results[bf16] = run({"steps": 4})[0].rgb
    change = np.abs(results[False] - photo().rgb).mean()
    assert change > 0.01
    assert np.abs(results[True] - results[False]).mean() < 0.5 * change


def test_validated_options_are_not_validated_again(random_vgg, monkeypatch):
    options = validate_options(dict(FAST, steps=2))

    def refuse(given):
        raise AssertionError("validated twice")

    monkeypatch.setattr(api, "validate_options", refuse)
    events = []
    result = api.stylize(photo(), [painting()], options, progress=events.append)
    assert result.rgb.shape == photo().rgb.shape and events[0]["total"] == 2
    with pytest.raises(AssertionError, match="validated twice"):  # a plain mapping is checked
        api.stylize(photo(), [painting()], dict(options))


def test_settings_come_only_from_validated_options():
    options = validate_options({"preset": "preview"})
    settings = optimize.Settings.from_options(options)
    assert (settings.steps, settings.scales) == (options["steps"], options["scales"])
    assert settings.style_layers == options["style_layers"]
    with pytest.raises(TypeError, match="validate_options"):
        optimize.Settings.from_options(dict(options))
