"""`neural-style batch --ray ADDRESS`: the batch's pictures spread over a Ray cluster.

One Ray task per picture: one GPU each when the cluster has GPUs, else --cpus-per-task
cores (the task's torch uses that many threads, through OMP_NUM_THREADS, which Ray sets).
The driver (this process) reads every picture and sends its bytes, so the cluster's
machines need the engine's packages (torch, numpy, pillow, ...) but not the files; the
code of core/ and protocol/ travels with the job (Ray's py_modules). Each task returns
its result as PNG bytes or one line of error, and the driver writes the results
atomically: a failed picture is reported and the others are finished.

Ray is an optional extra (pip install '.[ray]', or pip install ray): imported only here.
Each Ray worker process keeps its network between the pictures it paints
(core.network_cache).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.batch import Item, Outcome, one_line
from core.errors import EngineError, InputError
from protocol.options import ValidOptions

LOCAL = "local"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineError("--ray needs Ray, which is not installed in this Python (%s); install it with "
                          "\"%s -m pip install ray\", or run without --ray."
                          % (sys.executable, sys.executable))
    return ray


def local_workers(address: str) -> int | None:
    """N for 'local:N', None for plain 'local' (every core); InputError for anything else."""
    if address == LOCAL:
        return None
    count = address[len(LOCAL) + 1:]
    if not count.isdigit() or int(count) < 1:
        raise InputError("--ray %s: write local, local:N with N at least 1, or a cluster's address."
                         % address)
    return int(count)


def connect(ray: Any, address: str) -> None:
    """Join the cluster at address, or start a local one for 'local' / 'local:N'."""
    import core
    import protocol

    runtime_env = {"py_modules": [core, protocol], "env_vars": dict(core.OPENMP_WAIT)}
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == LOCAL or address.startswith(LOCAL + ":"):
            ray.init(num_cpus=local_workers(address), include_dashboard=False, runtime_env=runtime_env,
                     **quiet)
        else:
            ray.init(address=address, runtime_env=runtime_env, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise EngineError("Cannot reach the Ray cluster at %s: %s" % (address, one_line(error)[:300]))


def paint_picture(content: bytes, name: str, styles: Sequence[tuple[bytes, str]],
                  options: ValidOptions) -> tuple[bytes | None, str | None, float]:
    """The Ray task: (PNG bytes, None, seconds) or (None, one line of error, seconds)."""
    started = time.monotonic()
    from core.api import stylize
    from core.image_read import check_paintable, picture_from_bytes
    from core.image_write import picture_bytes
    from core.network_cache import cached_network

    try:
        picture = picture_from_bytes(content, name)
        check_paintable(picture, name)
        style_pictures = [picture_from_bytes(data, style_name) for data, style_name in styles]
        result = stylize(picture, style_pictures, options, network_factory=cached_network)
        return picture_bytes(result, "png"), None, time.monotonic() - started
    except EngineError as error:
        return None, one_line(error), time.monotonic() - started
    except MemoryError:
        return None, "ran out of memory; try a smaller --size or --tile-size.", time.monotonic() - started


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _styles(paths: Sequence[str]) -> list[tuple[bytes, str]]:
    """The style files' bytes, each checked here first: a bad style fails the whole run at once."""
    from core.image_read import check_paintable, load_picture

    styles = []
    for path in paths:
        check_paintable(load_picture(path), path, "style")
        styles.append((_read(path), path))
    return styles


def style_on_ray(address: str, items: Sequence[Item], style_paths: Sequence[str], options: ValidOptions,
                 report: Callable[[Outcome], None], cpus_per_task: int = 1) -> list[Outcome]:
    """Style the pictures on a Ray cluster, one task each; write the results as they come."""
    from core.atomic_files import write_atomically

    ray = import_ray()
    if address.startswith(LOCAL + ":"):
        local_workers(address)  # a bad count is a plain error before Ray starts
    styles = _styles(style_paths)
    connect(ray, address)
    outcomes: list[Outcome] = []

    def finish(outcome: Outcome) -> None:
        report(outcome)
        outcomes.append(outcome)

    try:
        if ray.cluster_resources().get("GPU", 0) > 0:
            task = ray.remote(num_gpus=1, num_cpus=1, max_retries=0)(paint_picture)
        else:
            task = ray.remote(num_cpus=cpus_per_task, max_retries=0)(paint_picture)
        style_ref = ray.put(styles)
        pending: dict[Any, Item] = {}
        for item in items:
            if item.problem is not None:
                finish(Outcome(item, item.problem))
                continue
            try:
                data = _read(item.source)
            except OSError as error:
                finish(Outcome(item, "%s is not an image GIMP or this engine can read: %s." % (
                    item.source, error.strerror or error)))
                continue
            pending[task.remote(data, item.source, style_ref, options)] = item
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(done[0])
            try:
                result, error, seconds = ray.get(done[0])
            except ray.exceptions.RayError as failure:
                reason = one_line(failure).split(" Traceback")[0][:300]
                finish(Outcome(item, "the Ray task failed: %s" % reason))
                continue
            if result is not None:
                try:
                    write_atomically(item.output, lambda out, data=result: out.write(data))
                except EngineError as failure:
                    error = one_line(failure)
            finish(Outcome(item, error, seconds))
    finally:
        ray.shutdown()
    return outcomes
