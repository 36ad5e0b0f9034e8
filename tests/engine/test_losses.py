"""Loss terms against values worked out by hand on tiny tensors."""

from __future__ import annotations

import pytest
import torch

from core import losses


def test_gram_matrix_is_feature_products_over_c_h_w():
    # Two channels over a 1x2 image: channel a = (1, 2), channel b = (3, 4).
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    gram = losses.gram_matrix(features)
    # a.a = 5, a.b = 11, b.b = 25, divided by C*H*W = 2*1*2 = 4.
    assert torch.allclose(gram, torch.tensor([[[1.25, 2.75], [2.75, 6.25]]]))


def test_gram_matrix_is_float32_for_half_features():
    features = torch.ones(1, 3, 2, 2, dtype=torch.bfloat16)
    gram = losses.gram_matrix(features)
    assert gram.dtype == torch.float32
    assert torch.allclose(gram, torch.full((1, 3, 3), 4.0 / 12.0))


def test_content_loss_is_mean_squared_difference():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    b = torch.tensor([[[[1.0, 0.0], [3.0, 7.0]]]])
    # differences 0, 2, 0, -3: squares 0 + 4 + 0 + 9 = 13 over 4 elements.
    assert losses.content_loss(a, b).item() == pytest.approx(13.0 / 4.0)


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_content_loss_gradient_is_mse_losss_in_the_features_precision(layout):
    torch.manual_seed(0)
    features = torch.randn(1, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=layout)
    target = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(losses.content_loss, (features.requires_grad_(True), target))
    half = features.detach().to(torch.bfloat16).requires_grad_(True)
    loss = losses.content_loss(half, target.float())
    loss.backward()
    reference = half.detach().float().requires_grad_(True)
    expected = torch.nn.functional.mse_loss(reference, target.float())
    expected.backward()
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert half.grad.dtype == torch.bfloat16
    assert torch.allclose(half.grad.float(), reference.grad, rtol=2 ** -8, atol=0)


def test_gram_loss_is_mean_squared_difference_of_entries():
    g = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    a = torch.tensor([[0.0, 2.0], [2.0, 3.0]])
    assert losses.gram_loss(g, a).item() == pytest.approx((1.0 + 4.0) / 4.0)


def test_style_loss_weights_layers_and_blends_styles():
    # One channel, so each Gram is the mean of squares over the pixels.
    features = {"relu1_1": torch.tensor([[[[1.0, 3.0]]]]),   # gram (1 + 9) / 2 = 5
                "relu2_1": torch.tensor([[[[2.0, 2.0]]]])}   # gram 4
    def stats(gram):
        return losses.StyleStats(torch.tensor([[gram]]), torch.zeros(1))

    style_a = {"relu1_1": stats(3.0), "relu2_1": stats(4.0)}
    style_b = {"relu1_1": stats(5.0), "relu2_1": stats(1.0)}
    layer_weights = {"relu1_1": 0.25, "relu2_1": 0.75}
    blend = [0.5, 0.5]
    # style a: 0.25 * (5-3)^2 + 0.75 * 0 = 1;  style b: 0.25 * 0 + 0.75 * (4-1)^2 = 6.75
    expected = 0.5 * 1.0 + 0.5 * 6.75
    value = losses.style_loss(features, [style_a, style_b], layer_weights, blend)
    assert value.item() == pytest.approx(expected)


def test_style_loss_skips_zero_weights():
    features = {"relu1_1": torch.tensor([[[[1.0, 3.0]]]])}
    target = {"relu1_1": losses.StyleStats(torch.tensor([[0.0]]), torch.zeros(1))}
    assert losses.style_loss(features, [target], {"relu1_1": 0.0}, [1.0]).item() == 0.0


def test_tv_loss_is_mean_squared_neighbour_difference_in_unit_range():
    # 0..255 pixels; in 0..1 units the image is [[0, 1], [0.2, 0.2]].
    pixels = torch.tensor([[[[0.0, 255.0], [51.0, 51.0]]]])
    horizontal = (1.0 ** 2 + 0.0 ** 2) / 2  # rows: 0->1, 0.2->0.2
    vertical = (0.2 ** 2 + 0.8 ** 2) / 2    # columns: 0->0.2, 1->0.2
    assert losses.tv_loss(pixels).item() == pytest.approx(horizontal + vertical, rel=1e-6)


def test_tv_loss_of_flat_image_is_zero_and_single_pixel_works():
    assert losses.tv_loss(torch.full((1, 3, 4, 5), 7.0)).item() == 0.0
    assert losses.tv_loss(torch.full((1, 3, 1, 1), 7.0)).item() == 0.0


def test_normalised_weights():
    assert losses.normalised(None, 4) == [0.25] * 4
    assert losses.normalised([1, 3], 2) == [0.25, 0.75]
    with pytest.raises(ValueError):
        losses.normalised([1.0], 2)
    with pytest.raises(ValueError):
        losses.normalised([0.0, 0.0], 2)


def test_gradients_flow_to_features():
    features = torch.rand(1, 4, 3, 3, requires_grad=True)
    target = {"relu1_1": losses.StyleStats(losses.gram_matrix(torch.rand(1, 4, 3, 3))[0], torch.zeros(4))}
    loss = losses.style_loss({"relu1_1": features}, [target], {"relu1_1": 1.0}, [1.0])
    loss = loss + losses.tv_loss(features[:, :3] * 255)
    loss.backward()
    assert features.grad is not None and features.grad.abs().sum() > 0


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_matrix_gradient_equals_autograds_of_the_plain_product(layout):
    # gram_matrix has a hand-written backward (speed); it must be the product rule's.
    torch.manual_seed(0)
    features = torch.rand(2, 5, 4, 3, dtype=torch.float64).contiguous(memory_format=layout)
    assert torch.autograd.gradcheck(losses.gram_matrix, (features.requires_grad_(True),))
    weights = torch.randn(2, 5, 5)
    (losses.gram_matrix(features) * weights).sum().backward()
    plain = features.detach().clone().requires_grad_(True)
    flat = plain.reshape(2, 5, 12)
    ((torch.bmm(flat, flat.transpose(1, 2)) / 60.0) * weights).sum().backward()
    assert torch.allclose(features.grad, plain.grad)


def test_feature_moments_are_the_gram_matrix_and_channel_means_with_their_gradients():
    torch.manual_seed(0)
    features = torch.rand(1, 5, 4, 3, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    gram, mean = losses.feature_moments(features)
    assert torch.allclose(mean, features.mean(dim=(2, 3)))
    assert torch.allclose(gram, losses.gram_matrix(features))
    features.requires_grad_(True)
    assert torch.autograd.gradcheck(losses.feature_moments, (features,))
    # Either output alone (the Gram loss uses no means; a loss of the means alone no Gram).
    assert torch.autograd.gradcheck(lambda f: losses.feature_moments(f)[1], (features,))
    assert torch.autograd.gradcheck(lambda f: losses.feature_moments(f)[0], (features,))


def test_gram_matrix_gradient_of_a_cropped_bfloat16_map_has_the_maps_precision():
    # What the engine hands it: a crop of a channels-last bfloat16 map (the mirrored margin).
    torch.manual_seed(0)
    padded = torch.rand(1, 8, 12, 12).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    padded.requires_grad_(True)
    losses.gram_matrix(padded[..., 2:10, 2:10]).sum().backward()
    exact = padded.detach().float()[..., 2:10, 2:10].reshape(8, 64)
    # d/dF[c, p] of sum(F F^T) / (C*H*W) is 2 * (sum over channels of F[:, p]) / (C*H*W).
    expected = 2.0 * exact.sum(dim=0, keepdim=True).expand(8, 64) / (8 * 64)
    assert padded.grad.dtype == torch.bfloat16
    assert torch.all(padded.grad[..., :2, :] == 0)
    inner = padded.grad[0, :, 2:10, 2:10].float().reshape(8, 64)
    assert torch.allclose(inner, expected, rtol=1e-2)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_deferred_moments_gradients_add_what_the_backward_would_have_made(layout):
    # The engine's tapped maps ask feature_moments to leave their gradient as products,
    # added in place into the network's gradient (core.vgg.TappedFeatures): the same sum.
    torch.manual_seed(0)
    maps = torch.rand(1, 6, 5, 7, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weights = torch.randn(1, 6, 6, dtype=torch.float64)

    def loss_of(features):
        gram, mean = losses.feature_moments(features)
        return (gram * weights).sum() + (mean ** 3).sum()

    dense = maps.clone().requires_grad_(True)
    loss_of(dense).backward()
    loss_of(dense).backward()  # two uses of one map add up
    deferred_map = maps.clone().requires_grad_(True)
    deferred = losses.defer_moments_gradients(deferred_map)
    loss_of(deferred_map).backward()
    loss_of(deferred_map).backward()
    assert deferred_map.grad is None and len(deferred) == 2
    from_above = torch.randn(1, 6, 5, 7, dtype=torch.float64).contiguous(memory_format=layout)
    total = from_above.clone()
    losses.add_moments_gradients(total, deferred_map.detach(), deferred)
    assert torch.allclose(total, from_above + dense.grad)
    # A view of the map is not the map: its gradient is made as usual.
    view_grad = maps.clone().requires_grad_(True)
    losses.defer_moments_gradients(view_grad)
    loss_of(view_grad[:, :, 1:, :]).backward()
    assert view_grad.grad is not None and torch.all(view_grad.grad[:, :, 0] == 0)


def _gaussian_target(features: torch.Tensor) -> losses.GaussianTarget:
    stats = losses.StyleStats(losses.gram_matrix(features)[0], features.mean(dim=(0, 2, 3)))
    return losses.gaussian_targets([{"layer": stats}], [1.0], ["layer"])["layer"]


def test_w2_distance_is_zero_against_its_own_gaussian_and_grows_with_a_shift():
    torch.manual_seed(0)
    features = torch.rand(1, 6, 5, 5) * 3
    target = _gaussian_target(features)
    assert abs(losses.w2_loss(features, target).item()) < 1e-3
    # Shifting every channel by 1 adds |shift|^2 / C = 1 (the covariance is unchanged).
    assert losses.w2_loss(features + 1.0, target).item() == pytest.approx(1.0, abs=1e-3)


def test_w2_with_fewer_pixels_than_channels_equals_the_full_formula():
    torch.manual_seed(1)
    few = torch.rand(1, 8, 2, 2)  # 4 pixels, 8 channels: the pixels x pixels form
    target = _gaussian_target(torch.rand(1, 8, 6, 6))
    mean = few.mean(dim=(0, 2, 3))
    covariance = losses.gram_matrix(few)[0] * 8 - torch.outer(mean, mean)
    cross = (target.covariance_sqrt @ covariance @ target.covariance_sqrt).double()
    full = (torch.sum((mean - target.mean) ** 2) + torch.trace(covariance) + torch.trace(target.covariance)
            - 2 * torch.linalg.eigvalsh(cross).clamp(min=0).sqrt().sum()) / 8
    assert losses.w2_loss(few, target).item() == pytest.approx(full.item(), rel=1e-3)


def test_w2_gradient_matches_finite_differences():
    torch.manual_seed(2)
    target = _gaussian_target(torch.rand(1, 4, 5, 5, dtype=torch.float64))
    features = (torch.rand(1, 4, 5, 5, dtype=torch.float64) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f: losses.w2_loss(f, target), (features,), atol=1e-5)


def test_w2_style_loss_weights_its_layers():
    torch.manual_seed(3)
    a, b = torch.rand(1, 4, 4, 4), torch.rand(1, 4, 4, 4)
    targets = {"relu1_1": _gaussian_target(b), "relu2_1": _gaussian_target(a)}
    value = losses.w2_style_loss({"relu1_1": a, "relu2_1": a}, targets, {"relu1_1": 0.25, "relu2_1": 0.75})
    expected = 0.25 * losses.w2_loss(a, targets["relu1_1"]) + 0.75 * losses.w2_loss(a, targets["relu2_1"])
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)


def test_w2_style_loss_gradient_over_full_and_few_pixel_layers_matches_finite_differences():
    # Both forms in one loss: 4 channels over 25 pixels (C x C) and 6 channels over 4 pixels
    # (the pixels x pixels form, for deep layers at coarse scales).
    torch.manual_seed(4)
    targets = {"wide": _gaussian_target(torch.rand(1, 4, 5, 5, dtype=torch.float64)),
               "deep": _gaussian_target(torch.rand(1, 6, 4, 4, dtype=torch.float64))}
    wide = (torch.rand(1, 4, 5, 5, dtype=torch.float64) + 0.5).requires_grad_(True)
    deep = (torch.rand(1, 6, 2, 2, dtype=torch.float64) + 0.5).requires_grad_(True)

    def loss(wide, deep):
        return losses.w2_style_loss({"wide": wide, "deep": deep}, targets, {"wide": 0.3, "deep": 1.0})

    # The pixels x pixels matrix of centred features always has an eigenvalue 0, and the
    # square root of its rounding noise (1e-9) swamps differences over gradcheck's 1e-6.
    assert torch.autograd.gradcheck(loss, (wide, deep), eps=1e-4, atol=1e-5)


def test_edge_band_loss_ignores_the_contents_own_edges_and_an_even_shift():
    content = torch.rand(1, 3, 64, 96) * 255
    content[..., :3, :] = 0.0  # a dark frame of the photo's own
    shifted = content + 20.0  # the whole picture lighter, the frame kept
    assert float(losses.edge_band_loss(shifted, content, losses.SIDES)) == pytest.approx(0.0, abs=1e-9)


def test_edge_band_loss_measures_a_band_on_its_side_and_part_of_a_side():
    content = torch.full((1, 3, 64, 96), 128.0)
    framed = content.clone()
    framed[..., :2, :] -= 51.0  # a band 0.2 darker along the whole top (depth 4: 2 outer rows)
    # outer rows: -0.2, -0.2; inner mean 0: (0.2^2 + 0.2^2) / 2 over the top only
    assert float(losses.edge_band_loss(framed, content, ["top"])) == pytest.approx(0.04, rel=1e-5)
    assert float(losses.edge_band_loss(framed, content, ["bottom", "left"])) < 1e-3
    assert float(losses.edge_band_loss(framed, content, losses.SIDES)) > 0.01 / 4
    partly = content.clone()
    partly[..., :2, :8] -= 51.0  # the first of 12 segments of 8 px
    assert float(losses.edge_band_loss(partly, content, ["top"])) == pytest.approx(0.04 / 12, rel=1e-5)


def test_edge_band_loss_gradient_lightens_a_dark_band():
    content = torch.full((1, 3, 64, 64), 128.0)
    framed = content.clone()
    framed[..., :, -2:] -= 40.0  # right edge
    framed.requires_grad_(True)
    losses.edge_band_loss(framed, content, losses.SIDES).backward()
    grad = framed.grad[0, 0]
    assert (grad[8:-8, -2:] < 0).all()  # lowering the loss lightens the band...
    assert (grad[8:-8, -4:-2] > 0).all()  # ...and darkens the strip inside, towards each other
    assert grad[8:-8, 16:-16].abs().max() == 0  # the middle is left alone
