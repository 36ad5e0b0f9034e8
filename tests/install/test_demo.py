"""The example at the end of an install: what it runs and what it tells the user to expect."""

from __future__ import annotations

import subprocess
from pathlib import Path

from installer import demo


def test_demo_runs_the_balanced_preset_and_says_how_long_it_takes(monkeypatch, tmp_path, capsys) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "examples").mkdir(parents=True)
    for name in (demo.EXAMPLE_PHOTO, demo.EXAMPLE_PAINTING):
        (checkout / name).write_bytes(b"picture")
    commands = []

    def fake_run(command, timeout=None, capture=True):
        commands.append([str(part) for part in command])
        Path(command[command.index("-o") + 1]).write_bytes(b"result")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(demo, "CHECKOUT", checkout)
    monkeypatch.setattr(demo, "run", fake_run)
    result = demo.run_demo(Path("/engine/python"))

    assert result == checkout / demo.DEMO_RESULT
    (command,) = commands
    assert command[command.index("--preset") + 1] == "balanced"
    assert command[command.index("--size") + 1] == "384"
    said = capsys.readouterr().out
    # The expected time, as measured (not the old "about a minute" for a 7 s run).
    assert "15-90 s on 2 CPU cores" in said
    assert "Example: done in" in said
