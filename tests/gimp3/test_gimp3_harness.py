"""The harness itself: GIMP 3.0 and 3.2 run scripts in their chroots, time limits hold,
nothing leaks."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from gimp3_harness import HarnessError, gimp_binary, mounts_under


def processes_of(root: Path, workdir: str) -> list[int]:
    """Processes in the chroot started for `workdir` (their environment names its profile)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink("/proc/%s/root" % entry) != str(root):
                    continue
                with open("/proc/%s/environ" % entry, "rb") as environ:
                    if workdir.encode() in environ.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture
def workdir(gimp3):
    path = gimp3.make_workdir()
    yield path
    gimp3.remove_workdir(path)


def test_gimp_runs_a_python_script_and_pixels_round_trip(gimp3, workdir):
    run = gimp3.run_cases(workdir, ["probe"], timeout=180)
    record = run.results.get("probe")
    assert record and record["ok"], run.report()
    # The chroot runs the GIMP series the test is for.
    assert record["data"]["gimp_version"].startswith(gimp3.series + "."), run.report()
    # GIMP is not PID 1 of its namespace: the first process there adopts every orphan.
    assert record["data"]["gimp_pid"] != 1, run.report()
    assert record["data"]["round_trip"] is True
    assert record["data"]["offsets"] == [9, 6]
    # Plug-ins get the run's own TMPDIR, so leftover run folders can be looked for there.
    assert record["data"]["tempdir"] == workdir + "/tmp"
    # The engine's paths are mounted inside the run only, never on the host.
    assert not mounts_under(gimp3.root / str(gimp3.checkout).lstrip("/"))


def test_time_limit_stops_gimp_and_everything_it_started(gimp3, workdir):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault(
        "run", gimp3.run_cases(workdir, ["sleep"], params={"sleep": 600}, timeout=20)))
    started = time.monotonic()
    thread.start()
    seen = []
    while thread.is_alive() and not seen:
        seen = processes_of(gimp3.root, workdir)
        time.sleep(0.2)
    thread.join(60)
    run = outcome["run"]
    assert seen, "no GIMP process was seen while it ran, so the check below would prove nothing"
    assert run.timed_out, run.report()
    assert time.monotonic() - started < 40
    assert "sleep" not in run.results
    deadline = time.monotonic() + 10
    while processes_of(gimp3.root, workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_of(gimp3.root, workdir)


def test_gimp_binaries_are_found_by_pattern(tmp_path):
    """GIMP 3.0 ships gimp-console-3.0, GIMP 3.2 gimp-console-3.2 and no -3.0 one."""
    bin_dir = tmp_path / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    with pytest.raises(HarnessError):
        gimp_binary(tmp_path, "gimp-console")
    for name in ("gimp", "gimp-3", "gimp-3.2", "gimp-console", "gimp-console-3", "gimp-console-3.2",
                 "gimp-test-clipboard-3.2", "gimp-script-fu-interpreter-3.0"):
        (bin_dir / name).touch()
    assert gimp_binary(tmp_path, "gimp-console") == "gimp-console-3.2"
    assert gimp_binary(tmp_path, "gimp") == "gimp-3.2"
    (bin_dir / "gimp-console-3.10").touch()
    assert gimp_binary(tmp_path, "gimp-console") == "gimp-console-3.10"
