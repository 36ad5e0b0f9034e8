"""The whole flow in the fake GIMP with the real engine (core.worker), at tiny sizes."""

import importlib.util
import os
import sys

import pytest
from fake_host import EXECUTION_ERROR, SUCCESS
from plugin_helpers import pattern, write_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "core", "worker.py")) or importlib.util.find_spec("torch") is None,
    reason="the engine (core.worker with torch) is not available")


@pytest.fixture
def engine_config(tmp_path):
    return write_config(tmp_path, python=sys.executable, engine_root=ROOT)


def scene(gimp, bits=8):
    image = gimp.new_image(48, 40, bits=bits)
    image.add_layer("Background", 48, 40, pattern(48, 40, 3, bits, seed=2))
    content = image.add_layer("Photo", 32, 24, pattern(32, 24, 4, bits, seed=4), offsets=(6, 9), alpha=True)
    style_image = gimp.new_image(24, 24)
    style = style_image.add_layer("Painting", 24, 24, pattern(24, 24, 3, 8, seed=8))
    return image, content, style


def alpha_of(data, bits):
    size = bits // 8
    return b"".join(data[index:index + size] for index in range(3 * size, len(data), 4 * size))


def test_real_engine_paints_a_new_layer_above(gimp, engine_config, temp_root):
    # 16-bit: the precision survives the whole trip (8-bit runs in the real GIMP 3 tests).
    bits = 16
    image, content, style = scene(gimp, bits)
    before = content.data
    status, message, layer = gimp.call(image, content, config_path=engine_config, temp_root=temp_root,
                                       style_layer=style, steps=2, size=32, seed=1, device="cpu",
                                       live_preview=True)
    assert (status, message) == (SUCCESS, None), message
    assert image.layers.index(layer) == image.layers.index(content) - 1
    assert (layer.width, layer.height, layer.offsets) == (32, 24, (6, 9))
    assert layer.name == "Photo in the style of Painting"
    assert len(layer.data) == 32 * 24 * 4 * (bits // 8)
    assert alpha_of(layer.data, bits) == alpha_of(before, bits)  # alpha is kept bit for bit
    assert layer.data != before and content.data == before
    assert any(kind == "update" for kind, _ in gimp.progress)
    assert any(kind == "text" and value.startswith("Step 2/2") for kind, value in gimp.progress)
    assert os.listdir(temp_root) == [] and gimp.messages == []


def test_real_engine_error_reaches_the_user_without_a_layer(gimp, engine_config, temp_root):
    image, content, style = scene(gimp)
    layers = list(image.layers)
    status, message, layer = gimp.call(image, content, config_path=engine_config, temp_root=temp_root,
                                       style_layer=style, steps=2, size=32, device="cuda")
    assert status == EXECUTION_ERROR and layer is None
    assert "CUDA" in message and "Traceback" not in message
    assert gimp.messages == [message]
    assert image.layers == layers and os.listdir(temp_root) == []
