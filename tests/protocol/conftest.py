"""Hypothesis for the protocol's property tests: no per-example deadline.

Its default (200 ms) measures wall time, so a busy CI machine that pauses the test process
would fail an example that takes well under a millisecond."""

from hypothesis import settings

settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")
