"""The run log: each run's engine stderr in the user's cache folder, named by failures."""

import os

from fake_host import EXECUTION_ERROR, SUCCESS
from neural_style_plugin import run_log
from plugin_helpers import pattern


def scene(gimp):
    image = gimp.new_image(8, 6)
    content = image.add_layer("Photo", 8, 6, pattern(8, 6, 3, seed=5))
    style = image.add_layer("Style", 8, 6, pattern(8, 6, 3, seed=9))
    return image, content, style


def run(gimp, config, temp_root):
    image, content, style = scene(gimp)
    return gimp.call(image, content, config_path=config, temp_root=temp_root, style_layer=style,
                     steps=2, live_preview=False)


def logs_in(cache_home):
    folder = os.path.join(str(cache_home), "neural-style-gimp", "logs")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def read(path):
    with open(path) as handle:
        return handle.read()


def test_a_crash_names_the_log_that_holds_the_whole_stderr(gimp, config, temp_root, engine_mode,
                                                            cache_home):
    engine_mode("crash")
    status, message, _ = run(gimp, config, temp_root)
    assert status == EXECUTION_ERROR
    [log] = logs_in(cache_home)
    assert message.endswith("\nDetails: %s" % log)
    text = read(log)
    assert ("stand-in engine: crash\nTraceback (most recent call last):\n"
            "RuntimeError: simulated crash\n") in text
    assert "# engine: " in text and "# engine ended with exit code 3" in text


def test_an_internal_engine_error_names_the_log(gimp, config, temp_root, engine_mode, cache_home):
    engine_mode("internal-error")
    status, message, _ = run(gimp, config, temp_root)
    assert status == EXECUTION_ERROR
    [log] = logs_in(cache_home)
    assert message == ("The engine failed unexpectedly (ZeroDivisionError: simulated bug).\n"
                       "Details: %s" % log)
    assert "ZeroDivisionError: simulated bug" in read(log)


def test_an_engine_error_about_the_input_stays_as_the_engine_said_it(gimp, config, temp_root,
                                                                      engine_mode):
    engine_mode("error")
    status, message, _ = run(gimp, config, temp_root)
    assert (status, message) == (EXECUTION_ERROR, "The style image is too small (simulated).")


def test_a_good_run_is_logged_too_and_only_the_last_runs_are_kept(gimp, config, temp_root, engine_mode,
                                                                 cache_home):
    for _ in range(run_log.RUNS_KEPT + 2):
        status, _, _ = run(gimp, config, temp_root)
        assert status == SUCCESS
    logs = logs_in(cache_home)
    assert len(logs) == run_log.RUNS_KEPT
    assert all("stand-in engine: ok" in read(log) for log in logs)
    engine_mode("crash")
    _, message, _ = run(gimp, config, temp_root)
    newest = logs_in(cache_home)
    assert len(newest) == run_log.RUNS_KEPT and newest[:-1] == logs[1:]
    assert message.endswith("Details: %s" % newest[-1])


def test_without_a_usable_cache_folder_the_run_goes_on_without_a_log(gimp, config, temp_root, engine_mode,
                                                                     tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    status, message, _ = run(gimp, config, temp_root)
    assert (status, message) == (SUCCESS, None)
    engine_mode("crash")
    status, message, _ = run(gimp, config, temp_root)
    assert status == EXECUTION_ERROR
    assert message == "The engine stopped unexpectedly (exit code 3): RuntimeError: simulated crash"


def test_the_cache_folder_of_each_platform():
    home = os.path.expanduser("~")
    logs = os.path.join("neural-style-gimp", "logs")
    assert run_log.log_folder({"XDG_CACHE_HOME": "/xdg"}, "linux") == os.path.join("/xdg", logs)
    assert run_log.log_folder({}, "linux") == os.path.join(home, ".cache", logs)
    assert run_log.log_folder({"XDG_CACHE_HOME": "relative"}, "linux") == os.path.join(home, ".cache", logs)
    assert run_log.log_folder({}, "darwin") == os.path.join(home, "Library", "Caches", logs)
    assert run_log.log_folder({"LOCALAPPDATA": "C:\\Users\\me\\AppData\\Local"}, "win32") == os.path.join(
        "C:\\Users\\me\\AppData\\Local", logs)
