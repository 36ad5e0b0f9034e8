"""The procedure's public interface: names, kinds, defaults and limits."""

from neural_style_plugin.procedure import MENU_LABEL, MENU_PATH, PROCEDURE_NAME, build_spec, options_from_args
from neural_style_plugin.shim import PF_BOOL, PF_FLOAT, PF_INT, PF_LAYER, PF_OPTION

from protocol.options import OPTIONS_BY_NAME, PRESETS, validate_options


def test_public_names_and_menu():
    spec = build_spec()
    assert spec.name == PROCEDURE_NAME == "python-fu-neural-style-transfer"
    assert (MENU_PATH, MENU_LABEL) == ("<Image>/Filters/Artistic", u"Neural Style Transfer\u2026")
    assert spec.image_types == "RGB*, GRAY*"
    kinds = dict((param.name, param.kind) for param in spec.params)
    assert kinds == {"style-layer": PF_LAYER, "preset": PF_OPTION, "steps": PF_INT, "size": PF_INT,
                     "seed": PF_INT, "style-weight": PF_FLOAT, "preserve-color": PF_OPTION,
                     "init": PF_OPTION, "device": PF_OPTION, "live-preview": PF_BOOL,
                     "style-layer-2": PF_LAYER, "style-layer-3": PF_LAYER, "style-mix-1": PF_FLOAT,
                     "style-mix-2": PF_FLOAT, "style-mix-3": PF_FLOAT, "apply-to": PF_OPTION,
                     "from-previous": PF_BOOL}
    # New arguments come after the old ones (GIMP 2.10 scripts pass them by position)...
    assert [param.name for param in spec.params][:10] == [
        "style-layer", "preset", "steps", "size", "seed", "style-weight", "preserve-color", "init",
        "device", "live-preview"]
    # ...while the dialog shows the styles and what to paint first.
    assert spec.dialog_order[:8] == ("style-layer", "style-mix-1", "style-layer-2", "style-mix-2",
                                     "style-layer-3", "style-mix-3", "apply-to", "from-previous")
    assert sorted(spec.dialog_order) == sorted(param.name for param in spec.params)
    assert spec.param("apply-to").choices == ("layer", "group", "image")
    assert spec.param("apply-to").default == "layer" and spec.param("from-previous").default is False


def test_choices_and_limits_come_from_the_options_table():
    spec = build_spec()
    for pdb_name, option_name in (("preset", "preset"), ("preserve-color", "preserve_color"),
                                  ("init", "init"), ("device", "device")):
        param, option = spec.param(pdb_name), OPTIONS_BY_NAME[option_name]
        assert param.choices == option.choices and param.default == option.default
        assert len(param.choice_labels) == len(param.choices)
    assert spec.param("steps").maximum == OPTIONS_BY_NAME["steps"].maximum
    assert spec.param("seed").maximum == OPTIONS_BY_NAME["seed"].maximum
    assert spec.param("size").maximum == OPTIONS_BY_NAME["size"].maximum


def test_defaults_validate_and_let_the_preset_decide():
    options = validate_options(options_from_args(build_spec().defaults()))
    assert (options["preset"], options["steps"], options["size"]) == ("balanced", 200, 768)


def test_zero_size_means_the_layers_own_size_and_explicit_values_pass_through():
    args = build_spec().defaults()
    args.update({"steps": 7, "size": 0, "seed": 5, "style-weight": 3.5, "preset": "quality"})
    options = validate_options(options_from_args(args))
    assert (options["steps"], options["size"], options["seed"], options["style_weight"]) == (7, 0, 5, 3.5)
    assert options["scales"] == PRESETS["quality"]["scales"]  # still from the preset


def test_one_table_maps_dialog_names_to_options():
    spec = build_spec()
    mapping = dict((param.name, param.option) for param in spec.params if param.option)
    assert mapping == {"preset": "preset", "steps": "steps", "size": "size", "seed": "seed",
                       "style-weight": "style_weight", "preserve-color": "preserve_color",
                       "init": "init", "device": "device"}
    assert all(option in OPTIONS_BY_NAME for option in mapping.values())
    args = spec.defaults()
    args.update({"preserve-color": "histogram", "init": "noise", "device": "cpu", "steps": 0, "size": -1})
    options = options_from_args(args)
    assert sorted(options) == sorted(mapping.values())
    assert (options["preserve_color"], options["init"], options["device"]) == ("histogram", "noise", "cpu")
    assert (options["steps"], options["size"]) == (None, None)  # the preset decides


def test_default_style_layer_prefers_the_top_visible_layer_of_another_image():
    from neural_style_plugin.procedure import default_style_layer

    here = [("top", True), ("photo", True), ("background", True)]
    other = [("hidden", False), ("painting", True), ("paper", True)]
    assert default_style_layer([[("hidden only", False)], other], here, "photo") == "painting"
    # No other image (or none with a visible layer): another visible layer of this image.
    assert default_style_layer([], here, "top") == "photo"
    assert default_style_layer([[("hidden only", False)]], [("top", False), ("photo", True),
                                                            ("background", True)], "photo") == "background"
    assert default_style_layer([], [("photo", True)], "photo") is None
