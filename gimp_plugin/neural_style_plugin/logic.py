"""One run of Neural Style Transfer, written once against the shim's Host.

read layers (and the selection as the engine's mask, the styles' selections as their
regions) -> PAM files in a per-run folder -> engine process, or PAM files in a request
-> engine server -> progress (and live preview) -> new layer directly above each painted
layer, inside one undo group. Both engines have one interface (server_engine's docstring).
With several layers (apply-to), every result is kept until the last one is done and
then all new layers go in together: GIMP's Cancel kills the plug-in outright, and this
way a Cancel part-way leaves the image as it was.
Whatever happens, the content and style layers are only read, a half-made layer is
removed, the run folder is removed and the engine is stopped (the server's job cancelled).
Python 2.7 and 3, standard library only.
"""

from __future__ import absolute_import, division

import os
import sys
import tempfile
import time
import traceback

from protocol.events import describe_progress, format_duration
from protocol.job import make_job, write_job
from protocol.options import OptionError, string_types, validate_options
from protocol.pam import PamError, decode_pam, encode_pam, read_pam, write_pam_atomically
from protocol.raster import MAX_PIXELS, NATIVE, fits_pixel_limit

from . import layer_plan, regions, run_folder
from .engine_process import EngineProcess
from .plugin_config import SERVER, SetupError, load_config
from .procedure import APPLY_LAYER, STYLE_MIXES, STYLE_SLOTS, options_from_args
from .sandbox import with_sandbox_advice
from .server_engine import ServerEngine
from .shim import BASE_GREY, BASE_INDEXED, KIND_GROUP, KIND_OTHER, HostError

CONTENT_FILE = "content.pam"
STYLE_FILE = "style%d.pam"
MASK_FILE = "mask.pam"
INIT_FILE = "init.pam"
RESULT_FILE = "result.pam"
PREVIEW_FILE = "preview.pam"
UNFINISHED = " (unfinished)"  # the live preview layer's name until the result is in
_NOTHING_SELECTED = object()  # a selection that misses the layer


class RunFailed(Exception):
    """A run that cannot go on; the message is for people."""


class EngineFailed(RunFailed):
    """The engine (process or server) failed: in a Flatpak sandbox the message says what to do."""


class Result(object):
    def __init__(self, ok, message=None, layer=None):
        self.ok = ok
        self.message = message
        self.layer = layer


def layer_name(content_name, style_names):
    """'photo in the style of A + B'; a style taken from a selection says '(selection)'."""
    if not isinstance(style_names, (list, tuple)):
        style_names = [style_names]
    return "%s in the style of %s" % (content_name, " + ".join(style_names))


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


def _check_content(host, drawable, what="The active layer"):
    if drawable is None or not host.is_valid(drawable):
        raise RunFailed("Select the layer to paint (one layer) before running Neural Style Transfer.")
    info = host.layer_info(drawable)
    if info.kind == KIND_GROUP:
        raise RunFailed("The active layer \"%s\" is a layer group. Select a normal layer, choose "
                        "\"Apply to: every layer of its group\", or merge the group first "
                        "(Layer > Merge Down)." % info.name)
    if info.kind == KIND_OTHER:
        raise RunFailed("The active drawable is a channel or a layer mask. Select a layer to paint.")
    if info.base_type == BASE_INDEXED:
        raise RunFailed("Indexed images are not supported. Convert the image with Image > Mode > RGB "
                        "first.")
    if info.width < 1 or info.height < 1:
        raise RunFailed("%s \"%s\" is empty." % (what, info.name))
    _check_pixel_count(info, what)
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


class _Style(object):
    """One style slot in use: its layer, blend weight, pixels and the name the new layer shows."""

    def __init__(self, layer, weight, pixels, name):
        self.layer = layer
        self.weight = weight
        self.pixels = pixels
        self.name = name


class _Run(object):
    """State of one run, so the clean-up knows exactly what to undo."""

    def __init__(self, host, image, drawable, args, config_path, temp_root):
        self.host = host
        self.image = image
        self.drawable = drawable
        self.args = args
        self.config_path = config_path
        self.temp_root = temp_root
        self.config = None
        self.folder = None
        self.engine = None
        self.new_layer = None  # the single-layer run's layer (made early by the live preview)
        self.new_layers = []  # every layer inserted so far
        self.undo_open = False
        self.durations = []  # seconds each finished layer took (the ETA across layers)

    def execute(self):
        host = self.host
        multi = self.args.get("apply-to", APPLY_LAYER) != APPLY_LAYER
        if self.drawable is None or not host.is_valid(self.drawable):
            raise RunFailed("Select the layer to paint (one layer) before running Neural Style Transfer.")
        if not multi:
            _check_content(host, self.drawable)
        styles = self._styles()
        options = self._options(styles)
        try:
            sources = layer_plan.layers_to_paint(host, self.image, self.drawable,
                                                 self.args.get("apply-to"), [s.layer for s in styles])
        except layer_plan.PlanError as error:
            raise RunFailed(_text_of(error))
        what = "The layer" if multi else "The active layer"
        infos = [_check_content(host, source, what) for source in sources]
        self.config = load_config(self.config_path)
        from_previous = multi and bool(self.args.get("from-previous"))
        live = bool(self.args.get("live-preview")) and not multi  # see the module's docstring
        style_names = [style.name for style in styles]

        host.progress_init("Neural Style Transfer: starting the engine" if not multi else
                           "Neural Style Transfer: %d layers" % len(sources))
        host.undo_group_start(self.image)
        self.undo_open = True
        results = []
        previous = None
        for index, (source, info) in enumerate(zip(sources, infos)):
            content = host.read_pixels(source, _channels_for(info), info.bits)
            if content.is_fully_transparent():
                if not multi:
                    raise RunFailed("The active layer \"%s\" is fully transparent: there is nothing to "
                                    "paint." % info.name)
                continue  # nothing of it is visible: nothing to paint
            mask = self._mask(info)
            if mask is _NOTHING_SELECTED:
                if not multi:
                    raise RunFailed("The selection does not cover any pixel of the active layer \"%s\". "
                                    "Select part of the layer, or Select > None to paint all of it."
                                    % info.name)
                continue
            init = previous if from_previous and previous is not None and (
                previous.width, previous.height) == (content.width, content.height) else None
            started = time.time()
            result = self._paint(index, len(sources), info, content, styles, mask, init, options, live)
            self.durations.append(time.time() - started)
            if multi:
                results.append((source, info, result))
            else:
                self._put_result(info, result, layer_name(info.name, style_names))
            previous = result
        if multi and not results:
            raise RunFailed("Nothing was painted: every layer to paint is fully transparent or outside "
                            "the selection.")
        for source, info, result in results:  # all at once: a Cancel before this changes nothing
            self.new_layers.append(host.insert_layer_above(
                self.image, source, layer_name(info.name, style_names), result, info.offsets))
        host.progress_update(1.0)
        host.flush_displays()
        return self.new_layers[-1] if multi else self.new_layer

    def _options(self, styles):
        options = options_from_args(self.args)
        if len(styles) > 1:
            options["style_blend"] = [style.weight for style in styles]
        try:
            return validate_options(options)
        except OptionError as error:
            raise RunFailed("Invalid setting: %s" % _text_of(error))

    def _styles(self):
        """The style slots in use (a layer and a mix above 0), each with its pixels."""
        host = self.host
        styles = []
        chosen = False
        for slot, mix in zip(STYLE_SLOTS, STYLE_MIXES):
            layer = self.args.get(slot)
            if layer is None:
                continue
            chosen = True
            weight = float(self.args.get(mix, 1.0))
            if weight <= 0:
                continue
            info = _check_style(host, layer)
            pixels = host.read_pixels(layer, 4 if info.has_alpha else 3, info.bits)
            name = info.name
            box = self._style_region(layer, info)
            if box is not None:
                pixels = regions.crop(pixels, box)
                name += " (selection)"
            if pixels.is_fully_transparent():
                raise RunFailed("The style layer \"%s\" is fully transparent%s: its colours are hidden, so "
                                "it has no style to give. Choose a visible layer as the style." % (
                                    info.name, " where it is selected" if box is not None else ""))
            styles.append(_Style(layer, weight, pixels, name))
        if not styles:
            if chosen:
                raise RunFailed("Every style has a mix of 0: give at least one style layer a mix above 0.")
            _check_style(host, None)
        return styles

    def _style_region(self, layer, info):
        """The bounding box, within the style layer, of its image's selection; None for the
        whole layer. A style in the painted image takes no region: there the selection
        says where to paint."""
        host = self.host
        style_image = host.image_of(layer)
        if host.same_item(style_image, self.image) or host.selection_bounds(style_image) is None:
            return None
        selected = host.read_selection(style_image, info.offsets[0], info.offsets[1], info.width,
                                       info.height, info.bits)
        box = regions.bounding_box(selected)
        if box is None:
            raise RunFailed("The selection in the style layer's image does not touch the style layer "
                            "\"%s\". Select the part of it to take the style from, or Select > None "
                            "to use all of it." % info.name)
        return box

    def _mask(self, info):
        """The selection over the layer as the engine's mask; None: paint all of it."""
        if self.host.selection_bounds(self.image) is None:
            return None
        mask = self.host.read_selection(self.image, info.offsets[0], info.offsets[1], info.width,
                                        info.height, info.bits)
        cover = regions.coverage(mask)
        if cover == regions.EMPTY:
            return _NOTHING_SELECTED
        return None if cover == regions.FULL else mask

    def _paint(self, index, count, info, content, styles, mask, init, options, live):
        """One engine run for one layer; returns the result's pixels."""
        host = self.host
        style_pixels = [style.pixels for style in styles]
        if self.config["engine"]["kind"] == SERVER:
            # Nothing is written here: the pictures travel in the request and the events.
            self.engine = ServerEngine(self.config["engine"], options, encode_pam(content),
                                       [encode_pam(pixels) for pixels in style_pixels],
                                       mask=encode_pam(mask) if mask is not None else None,
                                       preview_every=_preview_every(options) if live else None,
                                       init=encode_pam(init) if init is not None else None)
        else:
            job = self._write_job(content, style_pixels, mask, init, options, live)
            self.engine = EngineProcess(self.config, job, self.folder)
        prefix = "Layer %d of %d: " % (index + 1, count) if count > 1 else ""
        self.engine.start()
        result = None
        for event in self.engine.events():
            kind = event["event"]
            if kind == "queued" and event["position"] > 0:
                host.progress_set_text("%sWaiting for the engine server: %d job(s) ahead" % (
                    prefix, event["position"]))
            elif kind == "start":
                host.progress_set_text("%sNeural Style Transfer on %s: %d steps at %dx%d" % (
                    prefix, event["device"], event["total"], event["width"], event["height"]))
            elif kind == "progress":
                self._progress(index, count, event)
            elif kind == "preview" and live:
                self._show_preview(event, info, content, styles)
            elif kind == "error" and event["kind"] == "internal":
                raise EngineFailed(self.engine.with_log(event["message"]))  # a bug: the log has more
            elif kind == "error":
                raise EngineFailed(event["message"])
            elif kind == "done":
                result = _read_result(event, self._path(RESULT_FILE), content)
        if result is None:
            raise EngineFailed(self.engine.failure_message())
        self._finish_engine()
        return result

    def _progress(self, index, count, event):
        total = max(1, event["total"])
        fraction = min(1.0, max(0.0, float(event["step"]) / total))
        self.host.progress_update((index + fraction) / count)
        if count == 1:
            self.host.progress_set_text(describe_progress(event))
            return
        text = "Layer %d of %d, step %d/%d" % (index + 1, count, event["step"], total)
        eta = event.get("eta")
        if eta is not None:
            # The layers still to come take as long as the finished ones did (or this one will).
            per_layer = (sum(self.durations) / len(self.durations) if self.durations
                         else event.get("elapsed", 0.0) + eta)
            text += ", about %s left" % format_duration(eta + (count - index - 1) * per_layer)
        self.host.progress_set_text(text)

    def _finish_engine(self):
        engine, self.engine = self.engine, None
        engine.stop()
        if self.folder is not None:
            run_folder.remove_folder(self.folder)
            self.folder = None

    def _write_job(self, content, style_pixels, mask, init, options, live):
        """The local engine's inputs and job file in a new run folder; the job file's path."""
        try:
            self.folder = run_folder.make_run_folder(self.temp_root)
        except (IOError, OSError) as error:
            raise RunFailed("Cannot create a working folder in the temporary folder %s (%s). Check "
                            "that it exists, is writable and has free space." % (
                                self.temp_root or tempfile.gettempdir(), error))
        _write_pam(os.path.join(self.folder, CONTENT_FILE), content)
        names = []
        for number, pixels in enumerate(style_pixels):
            names.append(STYLE_FILE % number)
            _write_pam(os.path.join(self.folder, names[-1]), pixels)
        extra = {}
        if mask is not None:
            _write_pam(os.path.join(self.folder, MASK_FILE), mask)
            extra["mask"] = MASK_FILE
        if init is not None:
            _write_pam(os.path.join(self.folder, INIT_FILE), init)
            extra["init"] = INIT_FILE
        job = make_job(CONTENT_FILE, names, RESULT_FILE, options, preview=PREVIEW_FILE if live else None,
                       preview_every=_preview_every(options), **extra)
        return write_job(self.folder, job)

    def _path(self, name):
        return os.path.join(self.folder, name) if self.folder is not None else None

    def _put_result(self, info, pixels, name):
        if self.new_layer is None:
            self.new_layer = self.host.insert_layer_above(self.image, self.drawable, name, pixels,
                                                          info.offsets)
            self.new_layers.append(self.new_layer)
        else:
            self.host.write_pixels(self.new_layer, pixels)
            self.host.set_layer_name(self.new_layer, name)

    def _show_preview(self, event, info, content, styles):
        # A preview that cannot be read (or has another size) is skipped: it is only a preview.
        try:
            pixels = _read_result(event, self._path(PREVIEW_FILE), content)
        except RunFailed:
            return
        # Named "(unfinished)" until the result is in: GIMP's Cancel kills the plug-in, and
        # the layer then stays as the last preview left it (one Undo removes it).
        self._put_result(info, pixels, layer_name(info.name, [s.name for s in styles]) + UNFINISHED)
        self.host.flush_displays()

    def clean_up(self, failed):
        if self.engine is not None:
            self.engine.stop()
        if failed:
            for layer in self.new_layers:
                try:
                    self.host.remove_layer(self.image, layer)
                except Exception:  # noqa: BLE001 - keep cleaning up
                    traceback.print_exc()
            self.new_layers = []
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
