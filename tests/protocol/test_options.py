"""Option validation: the one gate every CLI call, job and API call passes."""

import copy
import json
import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.options import (
    OPTIONS,
    OPTIONS_BY_NAME,
    PRESETS,
    OptionError,
    ValidOptions,
    validate_options,
)


def test_defaults_are_complete_and_come_from_the_preset():
    options = validate_options({})
    assert set(options) == {option.name for option in OPTIONS}
    assert options["preset"] == "balanced"
    for name, value in PRESETS["balanced"].items():
        assert options[name] == value


def test_explicit_values_win_over_the_preset():
    options = validate_options({"preset": "preview", "steps": 7})
    assert options["steps"] == 7
    assert options["size"] == PRESETS["preview"]["size"]


def test_preview_holds_the_edges_harder_and_zero_turns_the_term_off():
    assert validate_options({"preset": "preview"})["edge_weight"] == 3.0
    assert validate_options({"preset": "quality"})["edge_weight"] == 1.0
    assert validate_options({"preset": "preview", "edge_weight": 0})["edge_weight"] == 0.0


@pytest.mark.parametrize(
    "given, words",
    [
        ({"steps": 0}, "steps must be at least 1"),
        ({"steps": -5}, "steps must be at least 1"),
        ({"steps": 10 ** 9}, "steps must be at most 10000"),
        ({"steps": "many"}, "steps must be a whole number"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"steps": True}, "steps must be a number"),
        ({"style_weight": float("nan")}, "style_weight must be a finite number"),
        ({"style_weight": float("inf")}, "style_weight must be"),
        ({"size": -1}, "size must be at least 0"),
        ({"device": "tpu"}, "device must be one of auto, cpu, cuda, mps"),
        ({"style_layers": ["relu9_9"]}, "unknown layer 'relu9_9'"),
        ({"style_layers": []}, "style_layers must be a list"),
        ({"style_blend": [0, 0]}, "style_blend must not be all zero"),
        ({"style_layer_weights": [1, 2]}, "style_layer_weights has 2 values but there are 5"),
        ({"stepz": 3}, "Unknown option: stepz"),
        ({"weights": ""}, "weights must be a non-empty text"),
    ],
)
def test_bad_values_are_refused_in_plain_words(given, words):
    with pytest.raises(OptionError) as error:
        validate_options(given)
    assert words in str(error.value)


def test_numbers_given_as_text_are_accepted():
    assert validate_options({"steps": "12", "style_weight": "2.5"})["steps"] == 12


def test_layer_lists_may_be_given_as_comma_separated_text():
    options = validate_options({"style_layers": "relu1_1, relu3_1", "style_layer_weights": "1,3"})
    assert options["style_layers"] == ("relu1_1", "relu3_1")
    assert options["style_layer_weights"] == (1.0, 3.0)


def test_validated_options_say_so_and_are_read_only():
    options = validate_options({"steps": 7})
    assert isinstance(options, ValidOptions) and isinstance(options, dict)
    assert options["steps"] == 7 and options.get("size") == PRESETS["balanced"]["size"]
    for change in (lambda: options.__setitem__("steps", 8), lambda: options.update(steps=8),
                   lambda: options.pop("steps"), lambda: options.setdefault("x", 1),
                   lambda: options.__delitem__("steps"), options.clear, options.popitem):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert options["steps"] == 7
    changeable = dict(options)
    changeable["steps"] = 8
    assert validate_options(changeable)["steps"] == 8


def test_validated_options_copy_pickle_and_serialise_like_a_dict():
    options = validate_options({"style_layer_weights": "1,2,3,4,5"})
    for again in (copy.copy(options), copy.deepcopy(options), pickle.loads(pickle.dumps(options))):
        assert type(again) is ValidOptions and again == options
    assert json.loads(json.dumps(options))["style_layer_weights"] == [1, 2, 3, 4, 5]


values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=8)), max_size=4),
)


@given(st.dictionaries(st.sampled_from(sorted(OPTIONS_BY_NAME)), values, max_size=6))
def test_any_input_gives_valid_options_or_a_plain_option_error(given_options):
    try:
        options = validate_options(given_options)
    except OptionError as error:
        assert str(error).endswith(".")
        return
    for option in OPTIONS:
        value = options[option.name]
        if option.kind in ("int", "float") and value is not None:
            assert not isinstance(value, bool)
            assert math.isfinite(value)
            if option.minimum is not None:
                assert value >= option.minimum
            if option.maximum is not None:
                assert value <= option.maximum
        if option.kind == "choice":
            assert value in option.choices
