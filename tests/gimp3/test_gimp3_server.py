"""The installed plug-in in the real GIMP 3.0 and 3.2, configured for an engine server
(`neural-style serve`) that the test starts on the host's 127.0.0.1: the chroot shares the
host's network namespace (the harness unshares mount and PID namespaces only), so GIMP's
plug-in reaches it there. One GIMP start runs, in order: the dialog's style-layer
preselection, a styled layer through the server, Cancel (the plug-in killed with SIGKILL,
as GIMP's Cancel does) and the server killed mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gimp3_harness import CONFIG_RELPATH, RESULT_PREFIX, GimpRun
from test_gimp3_plugin import ARGUMENTS, CONTENT_OFFSETS, CONTENT_SIZE, case, pixels, succeeded

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_helpers import start_server, wait_until_ready  # noqa: E402
from waiting import wait_for

LONG_ARGUMENTS = dict(ARGUMENTS, steps=5000)  # far longer than the test lets it run
GIMP_TIMEOUT = 600


def plugin_processes(workdir: str) -> list[int]:
    """This test's plug-in processes: by command line and by the GIMP profile in their
    environment (other tests' GIMPs may run plug-ins of the same name)."""
    profile = ("GIMP3_DIRECTORY=%s/profile" % workdir).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                command = handle.read()
            with open("/proc/%s/environ" % entry, "rb") as handle:
                environment = handle.read().split(b"\0")
        except OSError:
            continue
        if b"neural_style_transfer.py" in command and profile in environment:
            found.append(int(entry))
    return found


class Driver(threading.Thread):
    """Plays the user's and the server's part from the host while GIMP runs the cases."""

    def __init__(self, gimp3, workdir: str, server, token: str):
        super().__init__(daemon=True)
        self.gimp3, self.workdir, self.server, self.token = gimp3, workdir, server, token
        self.notes: dict = {}

    def started(self, name: str) -> bool:
        return self.gimp3.host_path("%s/started-%s" % (self.workdir, name)).exists()

    def busy(self) -> bool:
        return self.server.health(token=self.token)["busy"]

    def run(self) -> None:
        try:
            if not (wait_for(lambda: self.started("server_cancel"), 300) and wait_for(self.busy, 120)):
                self.notes["error"] = "the cancel case never got its job running"
                return
            victims = plugin_processes(self.workdir)
            self.notes["killed_plugins"] = len(victims)
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            accepted = self.server.health(token=self.token)["accepted"]

            def cancelled() -> bool:
                # Ended, or already followed by the next case's job: GIMP starts that case as
                # soon as the killed plug-in is gone, and one job runs at a time, so a newer
                # job running with nothing queued means the cancelled one has ended.
                health = self.server.health(token=self.token)
                return health["queue"] == 0 and (not health["busy"] or health["accepted"] > accepted)

            wait_for(cancelled, 10)
            self.notes["cancelled_after_s"] = time.monotonic() - killed
            if not (wait_for(lambda: self.started("server_killed"), 300) and wait_for(self.busy, 120)):
                self.notes["error"] = "the server-killed case never got its job running"
                return
            time.sleep(0.3)
            self.server.process.send_signal(signal.SIGKILL)
            self.notes["server_killed"] = True
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.notes["error"] = repr(error)


@pytest.fixture(scope="module")
def server_run(gimp3, profile_factory, tmp_path_factory):
    workdir, plugins = profile_factory()
    token_inside = workdir + "/server-token"  # the plug-in reads it inside the chroot
    server = start_server(tmp_path_factory.mktemp("server"), "--require-token", "--token-file",
                          str(gimp3.host_path(token_inside)))
    try:
        token = gimp3.host_path(token_inside).read_text().strip()
        wait_until_ready(server, token=token)
        config_path = plugins / CONFIG_RELPATH
        config = json.loads(config_path.read_text())
        config.update(version=2, engine={"kind": "server", "url": server.url, "token_file": token_inside})
        config_path.write_text(json.dumps(config))
        driver = Driver(gimp3, workdir, server, token)
        driver.start()
        run = gimp3.run_cases(workdir, ["dialog_default", "basic", "server_cancel", "server_killed"],
                              params={"arguments": ARGUMENTS, "long_arguments": LONG_ARGUMENTS,
                                      "workdir": workdir}, timeout=GIMP_TIMEOUT)
        driver.join(30)
        run.driver = driver.notes
        run.server_log = server.log()
    finally:
        server.stop()
    assert not run.timed_out, run.report()
    return run


def report(run: GimpRun) -> str:
    return "driver: %r\n%s\n----- server log -----\n%s" % (run.driver, run.report(), run.server_log)


def test_the_dialog_preselects_a_style_layer(server_run):
    data = case(server_run, "dialog_default")
    # Another open image's top visible layer, else another visible layer of this image.
    expected = {"other_image": "style", "same_image": "overlay", "below": "background"}
    assert data == expected, report(server_run)


def test_a_server_paints_the_new_layer_with_the_same_contract(server_run):
    data = case(server_run, "basic")
    succeeded(server_run, data)
    assert data["new_count"] == 1, report(server_run)
    after_names = [layer["name"] for layer in data["after"]]
    assert after_names == ["overlay", "content in the style of style", "content", "background"]
    new = data["new"]
    assert new["size"] == list(CONTENT_SIZE) and new["offsets"] == CONTENT_OFFSETS
    assert new["has_alpha"] and not new["has_mask"]
    result, content = pixels(new, "pixels", 8), pixels(data, "content_pixels", 8)
    assert np.array_equal(result[..., 3], content[..., 3]), "alpha changed"
    change = np.abs(result[..., :3].astype(int) - content[..., :3].astype(int))[content[..., 3] > 0]
    assert change.mean() > 2.0, "pixels barely changed (mean %.2f levels)" % change.mean()
    new_id = [layer["id"] for layer in data["after"] if layer["name"] == new["name"]]
    assert [layer for layer in data["after"] if layer["id"] not in new_id] == data["before"]
    assert data["style_after"] == data["style_before"]
    assert data["dirty_after"] is True and data["undo_enabled_after"] is True
    # Up to this case's result (the killed plug-in of the next case leaves its group open).
    output = server_run.output.split(RESULT_PREFIX + '{"case": "basic"')[0]
    assert "undo in inconsistent state" not in output and "Zombie plug-in" not in output, report(server_run)


def test_cancel_ends_the_job_on_the_server_and_leaves_the_image_alone(server_run):
    data = case(server_run, "server_cancel")
    notes = server_run.driver
    assert "error" not in notes and notes["killed_plugins"] == 1, report(server_run)
    assert data["status"] != "success", report(server_run)
    assert notes["cancelled_after_s"] < 2.0, report(server_run)
    assert data["new_count"] == 0 and data["after"] == data["before"], report(server_run)
    assert data["style_after"] == data["style_before"]


def test_a_server_killed_mid_run_leaves_the_image_unchanged(server_run):
    data = case(server_run, "server_killed")
    assert server_run.driver.get("server_killed"), report(server_run)
    assert data["status"] == "execution-error", report(server_run)
    message = data["message"] or ""
    assert message.startswith("The connection to the neural-style server at http://127.0.0.1:"), message
    assert "was lost" in message and "nothing was changed" in message
    assert data["new_count"] == 0 and data["after"] == data["before"], report(server_run)
    assert data["style_after"] == data["style_before"]
    shown = [line for line in server_run.output.splitlines()
             if message.splitlines()[0] in line and not line.startswith(RESULT_PREFIX)]
    assert shown, report(server_run)  # shown as a GIMP message too


def test_no_run_folder_is_left_behind(server_run, gimp3):
    leftovers = [entry.name for entry in gimp3.host_path(server_run.workdir + "/tmp").iterdir()
                 if entry.name.startswith("neural-style-gimp-")]
    assert not leftovers, "temporary run folders left behind: %s" % leftovers
