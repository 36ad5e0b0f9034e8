"""`neural-style batch INPUT_FOLDER STYLE [STYLE ...] -o OUTPUT_FOLDER [options]`.

Styles every picture in INPUT_FOLDER (not its subfolders, sorted by name) with the same
style and options, the options of the main command (protocol.options.OPTIONS, through
core.cli). The VGG-19 network is built once (core.network_cache) and every result is
written atomically as OUTPUT_FOLDER/<name without suffix>.png, so an interrupted run
leaves no partial file. A picture that cannot be read or styled gets its one-line error
and the others are finished; the exit status is 1 when any failed.

With --ray ADDRESS the pictures are spread over a Ray cluster instead (core.batch_ray).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROGRAM,
    OneLineParser,
    UsageError,
    add_common_arguments,
    add_option_arguments,
    missing_package_message,
    options_from_arguments,
    os_error_message,
    stop_on_sigterm,
)
from core.errors import EngineError
from protocol.options import ValidOptions

COMMAND = PROGRAM + " batch"
# What counts as a picture in the input folder (case does not matter).
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pam", ".webp", ".bmp", ".ppm", ".pgm",
                    ".pnm", ".gif")
# Failures that no other picture can escape: stop the run rather than repeat them per picture.
FATAL_KINDS = ("weights", "device", "options")


@dataclass
class Item:
    """One picture of the folder: where it is, where its result goes, and why it cannot be
    styled when that is known before any work."""

    source: str
    output: str
    problem: str | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.source)


@dataclass
class Outcome:
    """What became of one picture: its output, or the one-line reason it has none."""

    item: Item
    error: str | None = None
    seconds: float = 0.0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=COMMAND,
        description="Paint every picture in INPUT_FOLDER (PNG, JPEG, TIFF, PAM, WebP, ...; not its "
                    "subfolders) in the style of STYLE, with the options of the main command, and write "
                    "each result as OUTPUT_FOLDER/<name>.png.",
        epilog="Example: %s frames/ painting.jpg -o styled/ --preset preview" % COMMAND)
    parser.add_argument("input_folder", metavar="INPUT_FOLDER", help="Folder of pictures to repaint.")
    parser.add_argument("styles", metavar="STYLE", nargs="+", help="Painting(s) whose style to use.")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT_FOLDER",
                        help="Folder for the results (made when missing); never one of the inputs.")
    add_option_arguments(parser)
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="Spread the pictures over a Ray cluster: its address (host:port, "
                             "ray://host:port or auto), or local / local:N to start one here with N "
                             "workers. Needs Ray (pip install ray).")
    parser.add_argument("--cpus-per-task", type=int, default=1, metavar="N",
                        help="With --ray on a cluster without GPUs: CPU cores per picture (default 1); "
                             "with GPUs each picture takes one GPU.")
    add_common_arguments(parser)
    return parser


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, ValidOptions]:
    arguments = build_parser().parse_args(list(argv))
    if arguments.cpus_per_task < 1:
        raise UsageError("--cpus-per-task must be at least 1, not %d" % arguments.cpus_per_task)
    return arguments, options_from_arguments(arguments)


def find_pictures(folder: str, output_folder: str) -> list[Item]:
    """The folder's pictures, sorted by name, each with its output path (or a problem)."""
    from core.errors import InputError

    if not os.path.isdir(folder):
        raise InputError("%s is not a folder." % folder)
    names = sorted(name for name in os.listdir(folder)
                   if not name.startswith(".") and name.lower().endswith(PICTURE_SUFFIXES)
                   and os.path.isfile(os.path.join(folder, name)))
    if not names:
        raise InputError("%s has no pictures (%s)." % (folder, ", ".join(PICTURE_SUFFIXES)))
    sources = [os.path.join(folder, name) for name in names]
    items: list[Item] = []
    claimed: dict[str, str] = {}
    for source in sources:
        output = os.path.join(output_folder, os.path.splitext(os.path.basename(source))[0] + ".png")
        item = Item(source, output)
        key = os.path.normcase(os.path.abspath(output))
        if key in claimed:
            item.problem = ("its result %s would replace the result of %s; rename one of them"
                            % (output, claimed[key]))
        elif any(_same_file(output, other) for other in sources):
            item.problem = ("its result %s would replace an input picture; choose another output folder"
                            % output)
        claimed.setdefault(key, os.path.basename(source))
        items.append(item)
    return items


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def prepare_output_folder(folder: str) -> None:
    from core.errors import InputError

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise InputError("Cannot make the output folder %s: %s." % (folder, error.strerror or error))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("The output folder %s is not writable; choose another one." % folder)


def one_line(text: object) -> str:
    return " ".join(str(text).split())


class Report:
    """One line per picture: results on stdout, failures on stderr."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0

    def __call__(self, outcome: Outcome) -> None:
        self.count += 1
        where = "[%d/%d] %s" % (self.count, self.total, outcome.item.name)
        if outcome.error is None:
            print("%s -> %s (%.1f s)" % (where, outcome.item.output, outcome.seconds), flush=True)
        else:
            print("%s: error: %s: %s" % (COMMAND, where, outcome.error), file=sys.stderr, flush=True)


def style_locally(items: Sequence[Item], styles: Sequence[Any], options: ValidOptions,
                  report: Callable[[Outcome], None], verbose: bool = False) -> list[Outcome]:
    """Style the pictures one after the other in this process, with one network."""
    from core import image_read, image_write
    from core.api import stylize
    from core.network_cache import cached_network

    outcomes = []
    for item in items:
        started = time.monotonic()
        outcome = Outcome(item, item.problem)
        if item.problem is None:
            try:
                content = image_read.load_picture(item.source)
                image_read.check_paintable(content, item.source)
                result = stylize(content, styles, options, network_factory=cached_network)
                image_write.save_picture(result, item.output)
            except EngineError as error:
                if error.kind in FATAL_KINDS:
                    raise
                outcome.error = one_line(error)
            except MemoryError:
                outcome.error = "ran out of memory; try a smaller --size or --tile-size."
            except OSError as error:
                if verbose:
                    traceback.print_exc()
                outcome.error = one_line(os_error_message(error) or error)
        outcome.seconds = time.monotonic() - started
        report(outcome)
        outcomes.append(outcome)
    return outcomes


def run(arguments: argparse.Namespace, options: ValidOptions) -> int:
    from core import image_read

    started = time.monotonic()
    items = find_pictures(arguments.input_folder, arguments.output)
    prepare_output_folder(arguments.output)
    report = Report(len(items))
    if arguments.ray:
        from core.batch_ray import style_on_ray

        outcomes = style_on_ray(arguments.ray, items, arguments.styles, options, report,
                                cpus_per_task=arguments.cpus_per_task)
    else:
        styles = [image_read.load_picture(path) for path in arguments.styles]
        for path, style in zip(arguments.styles, styles):
            image_read.check_paintable(style, path, "style")
        outcomes = style_locally(items, styles, options, report, arguments.verbose)
    failed = sum(1 for outcome in outcomes if outcome.error is not None)
    print("Styled %d of %d pictures into %s in %.1f s%s." % (
        len(outcomes) - failed, len(outcomes), arguments.output, time.monotonic() - started,
        "; %d failed" % failed if failed else ""), flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def main(argv: Sequence[str]) -> int:
    verbose = "--verbose" in argv
    try:
        arguments, options = parse_arguments(argv)
    except UsageError as error:
        print("%s: error: %s" % (COMMAND, one_line(error)), file=sys.stderr)
        return EXIT_USAGE
    stop_on_sigterm()
    try:
        return run(arguments, options)
    except KeyboardInterrupt:
        print("%s: error: stopped (Ctrl-C or SIGTERM); the picture in progress was not written." % COMMAND,
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if verbose:
            traceback.print_exc()
        print("%s: error: %s" % (COMMAND, one_line(failure_message(error, verbose))), file=sys.stderr)
        return EXIT_FAILED


def failure_message(error: Exception, verbose: bool) -> str:
    """Plain words for what stopped the whole run."""
    if isinstance(error, EngineError):
        return str(error)
    if isinstance(error, ImportError):
        return missing_package_message(error) or "cannot load the engine (%s)" % error
    if isinstance(error, MemoryError):
        return "ran out of memory; try a smaller --size or --tile-size."
    plain = os_error_message(error) if isinstance(error, OSError) else None
    return plain or "internal error: %s: %s%s" % (
        type(error).__name__, error, "" if verbose else " (run with --verbose for details)")
