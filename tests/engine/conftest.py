"""Fixtures for the engine tests."""

from __future__ import annotations

import pytest

# core sets how torch's threads wait (core.OPENMP_WAIT); test modules may import torch
# first, so core is imported here, before any of them loads.
import core  # noqa: F401,E402


@pytest.fixture
def random_vgg(monkeypatch):
    """Every weights source gives the same seeded random network: fast, and never the product."""
    from core import vgg

    weights = vgg.random_weights(seed=0)
    monkeypatch.setattr(vgg, "load_weights", lambda source: weights)
    return weights
