"""Fixtures for the engine tests."""

from __future__ import annotations

import os

import pytest

# As core/__init__.py does for the product: torch must not busy-wait on a shared machine.
# Test modules import torch before core, so set it here, before any of them loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def random_vgg(monkeypatch):
    """Every weights source gives the same seeded random network: fast, and never the product."""
    from core import vgg

    weights = vgg.random_weights(seed=0)
    monkeypatch.setattr(vgg, "load_weights", lambda source: weights)
    return weights
