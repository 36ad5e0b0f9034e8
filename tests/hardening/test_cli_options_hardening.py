"""Every CLI option with absurd values: one plain line, exit status 2, nothing written.

In-process (no torch is imported before the options are checked), so each case costs
milliseconds. The property test proves the command line and the protocol's options table
can never disagree about what is valid.
"""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import cli
from protocol.options import OPTIONS, OptionError, ValidOptions, validate_options


def flag(option):
    return "--" + option.name.replace("_", "-")


def absurd_values(option):
    """Values no sane run takes, for one option of the table."""
    if option.kind in ("int", "float"):
        values = ["-1", "-0.5", "many", "", "nan", "inf", "-inf", "1e400", "0x10", "1,2"]
        values.append(str(int(option.maximum) * 10 + 1))  # just past the limit ...
        values.append("9" * 40)  # ... and absurdly past it
        if option.minimum is not None and option.minimum > 0:
            values.append("0")
        if option.kind == "int":
            values.append("2.5")
        return values
    if option.kind == "floats":
        return ["-1", "x", "1,x", "0", "0,0", "nan", "inf", "1e400", ""]
    if option.kind == "layers":
        return ["relu9_9", "conv1_1", ",", "", "relu1_1,nope"]
    if option.kind == "choice":
        return ["bogus", "", "AUTO" if "auto" in option.choices else option.choices[0].upper()]
    if option.kind == "str":
        return ["", "   "]
    raise AssertionError(option.kind)


CASES = [(option.name, value) for option in OPTIONS for value in absurd_values(option)]


@pytest.mark.parametrize("name, value", CASES)
def test_absurd_value_for_every_option_is_one_line_and_exit_2(tmp_path, capsys, name, value):
    option = [item for item in OPTIONS if item.name == name][0]
    output = tmp_path / "out.png"
    code = cli.main(["content.png", "style.png", "-o", str(output), "%s=%s" % (flag(option), value)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_USAGE, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("neural-style: error: --")
    assert flag(option) in lines[0], lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(tmp_path.iterdir()) == []


ZERO_IS_VALID = [option.name for option in OPTIONS
                 if option.kind in ("int", "float") and option.minimum is not None and option.minimum <= 0]


@pytest.mark.parametrize("name", ZERO_IS_VALID)
def test_zero_is_accepted_where_the_table_allows_it(name):
    option = [item for item in OPTIONS if item.name == name][0]
    _, options = cli.parse_arguments(["c.png", "s.png", "-o", "o.png", "%s=0" % flag(option)])
    assert options[name] == 0


def test_huge_but_allowed_values_pass_the_parser():
    arguments = ["c.png", "s.png", "-o", "o.png"]
    for option in OPTIONS:
        if option.kind in ("int", "float"):
            arguments.append("%s=%s" % (flag(option), option.maximum))
    _, options = cli.parse_arguments(arguments)
    assert options["steps"] == 10000 and options["size"] == 16384
    assert isinstance(options, ValidOptions)  # checked once here; stylize takes them as they are


option_text = st.one_of(
    st.text(max_size=12),
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.floats(-10, 10, allow_nan=False).map(str), min_size=1, max_size=6).map(",".join),
    st.lists(st.sampled_from(["relu1_1", "relu4_2", "relu5_1", "bogus", ""]), max_size=4).map(",".join),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OPTIONS), option_text)
def test_cli_accepts_exactly_what_the_options_table_accepts(option, text):
    argv = ["c.png", "s.png", "-o", "o.png", "%s=%s" % (flag(option), text)]
    try:
        expected = validate_options({option.name: text})
    except OptionError:
        expected = None
    if expected is not None and option.name == "style_blend" and len(expected["style_blend"]) != 1:
        expected = None  # one style image was given: one blend weight at most
    try:
        _, options = cli.parse_arguments(argv)
    except cli.UsageError as error:
        assert expected is None, "the CLI refused a value the table accepts: %s" % error
        message = str(error)
        assert "\n" not in cli._one_line(message) and message.strip()
        return
    assert expected is not None, "the CLI accepted a value the table refuses"
    assert options == expected


def test_unknown_flag_and_missing_value_are_one_line(capsys, tmp_path):
    for argv in (["c.png", "s.png", "-o", str(tmp_path / "o.png"), "--steps"],
                 ["c.png", "-o", str(tmp_path / "o.png")],
                 ["c.png", "s.png", "-o", str(tmp_path / "o.png"), "--steps", "-1e9"]):
        assert cli.main(argv) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("neural-style: error: "), err
    assert os.listdir(tmp_path) == []
