"""A killed plug-in leaves no engine process and no run folder behind."""

import os
import signal
import subprocess
import sys

import pytest
from neural_style_plugin import engine_process, run_folder
from waiting import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its new parent) counts as gone
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def start_plugin(tmp_path, config, temp_root, mode, monkeypatch):
    pidfile = str(tmp_path / "engine.pid")
    monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
    monkeypatch.setenv("FAKE_ENGINE_PIDFILE", pidfile)
    plugin = subprocess.Popen([sys.executable, os.path.join(HERE, "run_plugin.py"), config, temp_root],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile) > 0), "engine never started"
    with open(pidfile) as handle:
        engine_pid = int(handle.read())
    assert wait_for(lambda: len(os.listdir(temp_root)) == 1)
    # Only the guardian cleans up after a SIGKILL: it must be running before the kill.
    assert wait_for(lambda: guardian_of(engine_pid)), "the guardian never started"
    return plugin, engine_pid


def guardian_of(engine_pid):
    """Whether a guardian process (python -c ... with the engine's pid) is running."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"-c" in argv and str(engine_pid).encode() in argv:
            return True
    return False


@pytest.mark.parametrize("mode", ["hang", "stubborn"])
def test_sigkilled_plugin_leaves_no_engine_and_no_run_folder(tmp_path, config, temp_root, monkeypatch, mode):
    # GIMP's cancel kills the plug-in with SIGKILL: no handler runs in the plug-in.
    plugin, engine_pid = start_plugin(tmp_path, config, temp_root, mode, monkeypatch)
    plugin.kill()
    plugin.wait()
    assert wait_for(lambda: not alive(engine_pid), 10), "engine outlived the plug-in"
    assert wait_for(lambda: os.listdir(temp_root) == [], 10), os.listdir(temp_root)


def test_sigterm_stops_engine_and_cleans_up(tmp_path, config, temp_root, monkeypatch):
    plugin, engine_pid = start_plugin(tmp_path, config, temp_root, "hang", monkeypatch)
    plugin.send_signal(signal.SIGTERM)
    plugin.wait(10)
    assert not alive(engine_pid)
    assert os.listdir(temp_root) == []


def test_a_second_sigterm_during_the_clean_up_is_ignored(tmp_path, config, temp_root, monkeypatch):
    removing = tmp_path / "removing"
    monkeypatch.setenv("SLOW_FOLDER_REMOVAL_MARKER", str(removing))
    plugin, engine_pid = start_plugin(tmp_path, config, temp_root, "hang", monkeypatch)
    plugin.send_signal(signal.SIGTERM)
    assert wait_for(removing.exists), "the run folder's removal never began"
    plugin.send_signal(signal.SIGTERM)
    plugin.wait(10)
    assert not alive(engine_pid)
    assert os.listdir(temp_root) == []


def test_stale_run_folders_of_dead_runs_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ("%s%d-abc" % (run_folder.RUN_FOLDER_PREFIX, dead.pid))
    stale.mkdir()
    (stale / "content.pam").write_bytes(b"P7\n")
    mine = tmp_path / ("%s%d-def" % (run_folder.RUN_FOLDER_PREFIX, os.getpid()))
    mine.mkdir()
    unrelated = tmp_path / "neural-style-gimp-notes"
    unrelated.mkdir()
    assert run_folder.clean_stale_run_folders(str(tmp_path)) == [str(stale)]
    assert sorted(os.listdir(str(tmp_path))) == sorted([mine.name, unrelated.name])


def test_engine_environment_is_cleaned():
    env = engine_process.clean_environment({"PYTHONPATH": "/gimp/py", "PYTHONHOME": "/gimp",
                                            "GI_TYPELIB_PATH": "/gimp/gi", "HOME": "/home/me"})
    assert env == {"HOME": "/home/me", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}


def test_two_runs_at_once_do_not_disturb_each_other(tmp_path, config, temp_root, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    runs = [subprocess.Popen([sys.executable, os.path.join(HERE, "run_plugin.py"), config, temp_root],
                             stdout=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0].decode().strip() for run in runs]
    assert outputs == ["ok", "ok"]
    assert os.listdir(temp_root) == []


@pytest.mark.parametrize("mode", ["ok", "error", "crash", "garbage-output"])
def test_every_pipe_of_the_engine_and_guardian_is_closed(config, temp_root, monkeypatch, mode):
    # GIMP prints "ResourceWarning: unclosed file" for any pipe left open; here it is an error.
    monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
    done = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-X", "dev",
                           os.path.join(HERE, "run_plugin.py"), config, temp_root],
                          capture_output=True, timeout=60)
    stderr = done.stderr.decode("utf-8", "replace")
    assert "ResourceWarning" not in stderr, stderr
    assert done.returncode == (0 if mode == "ok" else 1), stderr
    assert os.listdir(temp_root) == []
