"""One run of Neural Style Transfer, written once against the shim's Host.

read layers -> PAM files in a per-run folder -> engine process, or PAM files in a request
-> engine server -> progress (and live preview) -> new layer directly above the active
layer, inside one undo group. Both engines have one interface (server_engine's docstring).
Whatever happens, the content and style layers are only read, a half-made layer is
removed, the run folder is removed and the engine is stopped (the server's job cancelled).
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import, division

import os
import sys
import tempfile
import traceback

from protocol.events import describe_progress
from protocol.job import make_job, write_job
from protocol.options import OptionError, string_types, validate_options
from protocol.pam import PamError, decode_pam, encode_pam, read_pam, write_pam_atomically
from protocol.raster import MAX_PIXELS, NATIVE, fits_pixel_limit

from . import run_folder
from .engine_process import EngineProcess
from .plugin_config import SERVER, SetupError, load_config
from .procedure import options_from_args
from .sandbox import with_sandbox_advice
from .server_engine import ServerEngine
from .shim import BASE_GREY, BASE_INDEXED, KIND_GROUP, KIND_OTHER, HostError

CONTENT_FILE = "content.pam"
STYLE_FILE = "style0.pam"
RESULT_FILE = "result.pam"
PREVIEW_FILE = "preview.pam"


class RunFailed(Exception):
    """A run that cannot go on; the message is for people."""


class EngineFailed(RunFailed):
    """The engine (process or server) failed: in a Flatpak sandbox the message says what to do."""


class Result(object):
    def __init__(self, ok, message=None, layer=None):
        self.ok = ok
        self.message = message
        self.layer = layer


def layer_name(content_name, style_name):
    return "%s in the style of %s" % (content_name, style_name)


def _channels_for(info):
    grey = info.base_type == BASE_GREY
    return (1 if grey else 3) + (1 if info.has_alpha else 0)


def _check_pixel_count(info, what):
    """Refuse a layer the engine would refuse anyway, before reading gigabytes of pixels."""
    if fits_pixel_limit(info.width, info.height):
        return
    factor = (MAX_PIXELS / float(info.width * info.height)) ** 0.5
    raise RunFailed("%s \"%s\" is %dx%d pixels; the engine takes at most %d megapixels. Scale it down "
                    "(Layer > Scale Layer) to at most %dx%d, or crop it, and try again." % (
                        what, info.name, info.width, info.height, MAX_PIXELS // 1000000,
                        int(info.width * factor), int(info.height * factor)))


def _check_content(host, drawable):
    if drawable is None or not host.is_valid(drawable):
        raise RunFailed("Select the layer to paint (one layer) before running Neural Style Transfer.")
    info = host.layer_info(drawable)
    if info.kind == KIND_GROUP:
        raise RunFailed("The active layer \"%s\" is a layer group. Select a normal layer, or merge "
                        "the group first (Layer > Merge Down)." % info.name)
    if info.kind == KIND_OTHER:
        raise RunFailed("The active drawable is a channel or a layer mask. Select a layer to paint.")
    if info.base_type == BASE_INDEXED:
        raise RunFailed("Indexed images are not supported. Convert the image with Image > Mode > RGB "
                        "first.")
    if info.width < 1 or info.height < 1:
        raise RunFailed("The active layer \"%s\" is empty." % info.name)
    _check_pixel_count(info, "The active layer")
    return info


def _check_style(host, style):
    if style is None:
        raise RunFailed("Choose a style layer: the layer whose style the active layer should take.")
    if not host.is_valid(style):
        raise RunFailed("The style layer is no longer available (was its image closed?). Open the style "
                        "image again and choose its layer.")
    info = host.layer_info(style)
    if info.kind == KIND_OTHER:
        raise RunFailed("The style must be a layer, not a channel or a layer mask.")
    if info.width < 1 or info.height < 1:
        raise RunFailed("The style layer \"%s\" is empty." % info.name)
    _check_pixel_count(info, "The style layer")
    return info


def _write_pam(path, pixels):
    try:
        write_pam_atomically(path, pixels)
    except (IOError, OSError) as error:
        raise RunFailed("Cannot write the image for the engine to %s (%s). Free some disk space in "
                        "the temporary folder and try again." % (os.path.dirname(path), error))


def _read_result(event, path, expected):
    """The picture an event brings: its PAM bytes (engine server) or the file at path."""
    try:
        image = decode_pam(event["pam"]) if "pam" in event else read_pam(path)
    except (IOError, OSError) as error:
        raise EngineFailed("The engine said it finished but its result cannot be read (%s)." % error)
    except PamError as error:
        raise EngineFailed("The engine's result is not a valid image (%s)." % error)
    if image.shape() != expected.shape():
        raise EngineFailed("The engine's result is %dx%d with %d channels at %d bits; the layer needs "
                        "%dx%d with %d channels at %d bits." % (image.shape() + expected.shape()))
    return image.in_byte_order(NATIVE)


def _preview_every(options):
    return max(5, options["steps"] // 20)


class _Run(object):
    """State of one run, so the clean-up knows exactly what to undo."""

    def __init__(self, host, image, drawable, args, config_path, temp_root):
        self.host = host
        self.image = image
        self.drawable = drawable
        self.args = args
        self.config_path = config_path
        self.temp_root = temp_root
        self.folder = None
        self.engine = None
        self.new_layer = None
        self.undo_open = False

    def execute(self):
        host = self.host
        try:
            options = validate_options(options_from_args(self.args))
        except OptionError as error:
            raise RunFailed("Invalid setting: %s" % _text_of(error))
        content_info = _check_content(host, self.drawable)
        style = self.args.get("style-layer")
        style_info = _check_style(host, style)
        config = load_config(self.config_path)

        bits = content_info.bits
        content = host.read_pixels(self.drawable, _channels_for(content_info), bits)
        if content.is_fully_transparent():
            raise RunFailed("The active layer \"%s\" is fully transparent: there is nothing to paint."
                            % content_info.name)
        style_pixels = host.read_pixels(style, 4 if style_info.has_alpha else 3, style_info.bits)
        if style_pixels.is_fully_transparent():
            raise RunFailed("The style layer \"%s\" is fully transparent: its colours are hidden, so it "
                            "has no style to give. Choose a visible layer as the style." % style_info.name)

        live = bool(self.args.get("live-preview"))
        if config["engine"]["kind"] == SERVER:
            # Nothing is written here: the pictures travel in the request and the events.
            self.engine = ServerEngine(config["engine"], options, encode_pam(content),
                                       [encode_pam(style_pixels)],
                                       preview_every=_preview_every(options) if live else None)
        else:
            self.engine = EngineProcess(config, self._write_job(content, style_pixels, options, live),
                                        self.folder)

        host.progress_init("Neural Style Transfer: starting the engine")
        host.undo_group_start(self.image)
        self.undo_open = True
        self.engine.start()
        done = False
        for event in self.engine.events():
            kind = event["event"]
            if kind == "queued" and event["position"] > 0:
                host.progress_set_text("Waiting for the engine server: %d job(s) ahead" % event["position"])
            elif kind == "start":
                host.progress_set_text("Neural Style Transfer on %s: %d steps at %dx%d" % (
                    event["device"], event["total"], event["width"], event["height"]))
            elif kind == "progress":
                total = max(1, event["total"])
                host.progress_update(min(1.0, max(0.0, float(event["step"]) / total)))
                host.progress_set_text(describe_progress(event))
            elif kind == "preview" and live:
                self._show_preview(event, content_info, content)
            elif kind == "error" and event["kind"] == "internal":
                raise EngineFailed(self.engine.with_log(event["message"]))  # a bug: the log has more
            elif kind == "error":
                raise EngineFailed(event["message"])
            elif kind == "done":
                result = _read_result(event, self._path(RESULT_FILE), content)
                done = True
        if not done:
            raise EngineFailed(self.engine.failure_message())

        self._put_result(content_info, result)
        if host.selection_bounds(self.image) is not None:
            host.add_selection_mask(self.new_layer)
        host.progress_update(1.0)
        host.flush_displays()
        return self.new_layer

    def _write_job(self, content, style_pixels, options, live):
        """The local engine's inputs and job file in a new run folder; the job file's path."""
        try:
            self.folder = run_folder.make_run_folder(self.temp_root)
        except (IOError, OSError) as error:
            raise RunFailed("Cannot create a working folder in the temporary folder %s (%s). Check "
                            "that it exists, is writable and has free space." % (
                                self.temp_root or tempfile.gettempdir(), error))
        _write_pam(os.path.join(self.folder, CONTENT_FILE), content)
        _write_pam(os.path.join(self.folder, STYLE_FILE), style_pixels)
        job = make_job(CONTENT_FILE, [STYLE_FILE], RESULT_FILE, options,
                       preview=PREVIEW_FILE if live else None, preview_every=_preview_every(options))
        return write_job(self.folder, job)

    def _path(self, name):
        return os.path.join(self.folder, name) if self.folder is not None else None

    def _put_result(self, content_info, pixels):
        if self.new_layer is None:
            self.new_layer = self.host.insert_layer_above(
                self.image, self.drawable, layer_name(content_info.name, self._style_name()),
                pixels, content_info.offsets)
        else:
            self.host.write_pixels(self.new_layer, pixels)

    def _style_name(self):
        return self.host.layer_info(self.args.get("style-layer")).name

    def _show_preview(self, event, content_info, content):
        # A preview that cannot be read (or has another size) is skipped: it is only a preview.
        try:
            pixels = _read_result(event, self._path(PREVIEW_FILE), content)
        except RunFailed:
            return
        self._put_result(content_info, pixels)
        self.host.flush_displays()

    def clean_up(self, failed):
        if self.engine is not None:
            self.engine.stop()
        if failed and self.new_layer is not None:
            try:
                self.host.remove_layer(self.image, self.new_layer)
            except Exception:  # noqa: BLE001 - keep cleaning up
                traceback.print_exc()
            self.new_layer = None
        if self.undo_open:
            try:
                self.host.undo_group_end(self.image)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        if self.folder is not None:
            run_folder.remove_folder(self.folder)


def _text_of(error):
    # The message itself: str() of an exception holding non-ASCII unicode fails on Python 2.7.
    return error.args[0] if error.args and isinstance(error.args[0], string_types) else str(error)


def run(host, image, drawable, args, config_path=None, temp_root=None):
    """Run the filter; returns Result(ok, message, layer). Errors reach the user as messages.

    The GIMP back ends call engine_lifetime.install_exit_handlers() first (the plug-in owns
    its process there); tests that run in-process leave the test runner's signals alone.
    """
    run_folder.clean_stale_run_folders(temp_root)
    state = _Run(host, image, drawable, args, config_path, temp_root)
    failed = True
    try:
        layer = state.execute()
        failed = False
        return Result(True, layer=layer)
    except (EngineFailed, SetupError) as error:
        message = with_sandbox_advice(_text_of(error))
    except (RunFailed, HostError) as error:
        message = _text_of(error)
    except MemoryError:
        message = ("Out of memory while preparing the layers. Try a smaller layer or close other "
                   "images.")
    except (IOError, OSError) as error:
        message = "A file operation failed: %s" % error
    except Exception as error:  # noqa: BLE001 - a bug must still reach the user in plain words
        traceback.print_exc(file=sys.stderr)
        message = "Neural Style Transfer failed unexpectedly (%s: %s)." % (type(error).__name__, error)
    finally:
        state.clean_up(failed)
    host.report_error(message)
    return Result(False, message)
