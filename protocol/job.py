"""The job file: what the plug-in asks the engine's worker to do.

A job is a JSON file inside a per-run folder; every path in it is a plain file name
inside that folder, so a job can never make the engine read or write elsewhere.
  {"version": 1,
   "content": "content.pam",
   "styles": ["style0.pam", ...],
   "mask": "mask.pam" | null,            # optional: where the content may change
   "init": "init.pam" | null,            # optional: the picture to start from
   "output": "result.pam",               # written atomically by the engine
   "preview": {"path": "preview.pam", "every": 10} | null,
   "options": {...}}                     # see protocol.options
Python 2.7 and 3, standard library only.
"""

import json
import os

from . import PROTOCOL_VERSION
from .options import OptionError, string_types, validate_options

JOB_FILE_NAME = "job.json"
MAX_STYLES = 8


class JobError(ValueError):
    """A job file that cannot be run; the message is for people."""


def _file_name(value, what):
    if not isinstance(value, string_types) or not value:
        raise JobError("The job's %s must be a file name." % what)
    if value in (".", "..") or os.path.basename(value) != value or "/" in value or "\\" in value:
        raise JobError("The job's %s must be a file name inside the run folder, not %r." % (what, value))
    return value


def make_job(content, styles, output, options, mask=None, preview=None, preview_every=10, init=None):
    """The job dict the plug-in writes; names are file names inside the run folder.

    init: a picture of the content's size to start from instead of the init option (an
    animation's previous frame, styled); None leaves the entry out.
    """
    job = {
        "version": PROTOCOL_VERSION,
        "content": content,
        "styles": list(styles),
        "mask": mask,
        "output": output,
        "preview": {"path": preview, "every": preview_every} if preview else None,
        "options": options,
    }
    if init is not None:
        job["init"] = init
    return job


def write_job(folder, job):
    path = os.path.join(folder, JOB_FILE_NAME)
    with open(path, "w") as handle:
        json.dump(job, handle, indent=1, sort_keys=True)
    return path


def parse_job(text, folder):
    """Check a job's JSON text; return it with absolute paths and validated options."""
    try:
        job = json.loads(text)
    except ValueError as error:
        raise JobError("The job file is not valid JSON (%s)." % error)
    if not isinstance(job, dict):
        raise JobError("The job file must hold a JSON object.")
    if job.get("version") != PROTOCOL_VERSION:
        raise JobError("The job file has protocol version %r; this engine speaks version %d. "
                       "Run install.py again so plug-in and engine match." % (
                           job.get("version"), PROTOCOL_VERSION))
    styles = job.get("styles")
    if not isinstance(styles, list) or not styles:
        raise JobError("The job must name at least one style image.")
    if len(styles) > MAX_STYLES:
        raise JobError("At most %d style images can be blended." % MAX_STYLES)
    try:
        options = validate_options(job.get("options") or {})
    except OptionError as error:
        raise JobError(str(error))
    if options["style_blend"] is not None and len(options["style_blend"]) != len(styles):
        raise JobError("style_blend has %d weights but the job has %d styles." % (
            len(options["style_blend"]), len(styles)))
    parsed = {
        "content": os.path.join(folder, _file_name(job.get("content"), "content image")),
        "styles": [os.path.join(folder, _file_name(name, "style image")) for name in styles],
        "mask": None,
        "init": None,
        "output": os.path.join(folder, _file_name(job.get("output"), "output image")),
        "preview": None,
        "options": options,
    }
    if job.get("mask") is not None:
        parsed["mask"] = os.path.join(folder, _file_name(job["mask"], "mask image"))
    if job.get("init") is not None:
        parsed["init"] = os.path.join(folder, _file_name(job["init"], "starting image"))
    preview = job.get("preview")
    if preview is not None:
        if not isinstance(preview, dict):
            raise JobError("The job's preview must be an object with path and every.")
        every = preview.get("every")
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 10000:
            raise JobError("The job's preview interval must be a whole number from 1 to 10000.")
        parsed["preview"] = {"path": os.path.join(folder, _file_name(preview.get("path"), "preview image")),
                             "every": every}
    return parsed


def read_job(path):
    """Read and check the job file at path (see parse_job)."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as error:
        raise JobError("Cannot read the job file %s (%s)." % (path, error))
    return parse_job(text, os.path.dirname(os.path.abspath(path)))
