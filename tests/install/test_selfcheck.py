"""core.selfcheck: the engine's own answer to "does this environment work?", as install.py reads it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import core.api
import core.vgg
from core import selfcheck
from core.errors import EngineError


def test_a_working_environment_reports_engine_torch_devices_and_weights(
        capsys: pytest.CaptureFixture) -> None:
    assert selfcheck.main([]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["engine"].startswith("core %s from " % core.__version__)
    assert report["torch"].startswith("2.14.1")
    assert isinstance(report["cuda"], bool) and isinstance(report["mps"], bool)
    assert report["weights"] == "VGG-19, 16 conv layers, %s" % core.vgg.EMBEDDED_FILE
    assert "smoke_test" not in report and not [key for key in report if key.endswith("_error")]


def test_damaged_weights_fail_in_plain_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    damaged = tmp_path / core.vgg.EMBEDDED_FILE
    damaged.write_bytes(b"not the weights")
    monkeypatch.setattr(core.vgg, "embedded_weights_path", lambda: str(damaged))
    assert selfcheck.main(["--smoke-test"]) == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "weights" not in report and "smoke_test" not in report  # no fallback, no run
    assert report["weights_error"].startswith("The embedded VGG-19 weights file %s is damaged" % damaged)


def test_missing_torch_is_a_report_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    report = selfcheck.run_checks(with_smoke_test=True)
    assert "engine" in report and report["torch_error"].startswith("ModuleNotFoundError: ")
    assert "weights" not in report and "weights_error" not in report


def test_the_smoke_test_runs_two_steps_through_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_stylize(content, styles, options, progress):
        calls.append((content.rgb.shape, [style.rgb.shape for style in styles], options))
        for step in range(options["steps"]):
            progress({"event": "progress", "step": step + 1})
        return content

    monkeypatch.setattr(core.api, "stylize", fake_stylize)
    assert selfcheck.smoke_test()["smoke_test"]["steps"] == 2
    assert calls == [((20, 24, 3), [(24, 24, 3)], {"size": 32, "steps": 2, "device": "cpu"})]

    def failing_stylize(*args, **kwargs):
        raise EngineError("The optimisation diverged.")

    monkeypatch.setattr(core.api, "stylize", failing_stylize)
    monkeypatch.setattr(selfcheck, "check_weights", lambda: {"weights": "VGG-19"})
    report = selfcheck.run_checks(with_smoke_test=True)
    assert report["smoke_test_error"] == "The optimisation diverged."
