"""Run the filter in the fake GIMP in its own process, so a test can kill that process.

Usage: python run_plugin.py CONFIG TEMP_ROOT [STEPS]. Prints "ok" or the error message.
"""

import gc
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, ROOT, os.path.join(ROOT, "gimp_plugin")]

from fake_host import FakeGimp  # noqa: E402
from neural_style_plugin import engine_lifetime  # noqa: E402
from plugin_helpers import pattern  # noqa: E402


def _slow_folder_removal(marker):
    """Announce the run folder's removal in the marker file and take a second over it, so
    that a test can send a signal while it is under way."""
    import time

    from neural_style_plugin import run_folder

    real_remove_folder = run_folder.remove_folder

    def remove_folder(path):
        open(marker, "w").close()
        time.sleep(1.0)
        real_remove_folder(path)

    run_folder.remove_folder = remove_folder


def main(config, temp_root, steps=3):
    engine_lifetime.install_exit_handlers()  # as the GIMP back ends do
    if os.environ.get("SLOW_FOLDER_REMOVAL_MARKER"):
        _slow_folder_removal(os.environ["SLOW_FOLDER_REMOVAL_MARKER"])
    gimp = FakeGimp()
    image = gimp.new_image(8, 8)
    content = image.add_layer("Photo", 8, 8, pattern(8, 8, 3))
    style = image.add_layer("Style", 8, 8, pattern(8, 8, 3, seed=9))
    status, message, _ = gimp.call(image, content, config_path=config, temp_root=temp_root,
                                   style_layer=style, steps=steps, live_preview=False)
    del gimp, image, content, style
    gc.collect()  # finalise what the run left, so unclosed files warn now
    print(message or "ok")
    return 0 if status == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], *[int(value) for value in sys.argv[3:4]]))
