"""Choosing the compute device: auto means CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import os
import warnings

import torch

from core.errors import DeviceError


def _cuda_available() -> bool:
    # torch warns when a CUDA build finds no driver; that is an answer, not a problem.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(torch.cuda.is_available() and torch.cuda.device_count() > 0)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for an option value (auto, cpu, cuda, mps), or DeviceError."""
    if name == "auto":
        if _cuda_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not _cuda_available():
            raise DeviceError("CUDA was requested but no NVIDIA GPU/driver is available; "
                              "use device auto or cpu.")
        return torch.device("cuda")
    if name == "mps":
        if not _mps_available():
            raise DeviceError("MPS was requested but this machine has no Apple GPU that torch "
                              "can use; use device auto or cpu.")
        return torch.device("mps")
    raise DeviceError("Unknown device %r; use auto, cpu, cuda or mps." % (name,))


def describe_device(device: torch.device) -> str:
    """Short words for the start event, e.g. 'cpu (2 threads)' or 'cuda (NVIDIA H100)'."""
    if device.type == "cuda":
        return "cuda (%s)" % torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return "cpu (%d threads)" % torch.get_num_threads()
    return device.type


def configure_cpu_threads() -> None:
    """Use every core this process may run on (torch counts physical cores only), or as
    many as OMP_NUM_THREADS says when it is set: a scheduler that gives this process a
    share of the machine (Ray, a batch system) sets it, and more threads would fight."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked.isdigit() and int(asked) > 0:
        wanted = min(cores, int(asked))
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
    elif torch.get_num_threads() < cores:
        torch.set_num_threads(cores)
