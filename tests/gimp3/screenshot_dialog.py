#!/usr/bin/env python3
"""Screenshot of the plug-in's dialog in the real GIMP 3 (GUI, on Xvfb, in the chroot).

    .venv/bin/python tests/gimp3/screenshot_dialog.py [--out docs/screenshots/dialog.png] [--gimp 3.0]

Needs root and the GIMP 3 chroot the real-GIMP tests use (built if missing). The clicks
that pick the style layer are placed for GIMP 3.0's dialog; 3.2 draws it taller. The first
run also installs Xvfb and capture tools into the cached chroot (GUI_PACKAGES in
gimp3_harness.py; a few MB, from the Debian registry). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gimp3_harness import SERIES, Gimp3, ensure_chroot, ensure_gui_tools  # noqa: E402

CHECKOUT = HERE.parents[1]

# Waits for the dialog's window, fills in the style layer, then captures the dialog and
# the whole screen.
DRIVER = """
id=""
for i in $(seq 1 240); do
  id=$(xwininfo -root -tree | grep 'Neural Style Transfer' | awk '{print $1}' | head -n 1)
  [ -n "$id" ] && break
  sleep 0.5
done
if [ -z "$id" ]; then echo "NSGIMP3-DIALOG no dialog window appeared"; xwininfo -root -tree; fi
sleep 3
# Pick the painting as the style layer, as a user would: Browse..., its layer, OK. The
# dialog sits at 0,0 (no window manager); the chooser is moved beside it first.
xdotool mousemove 350 36 click 1
sleep 2
chooser=$(xwininfo -root -tree | grep 'Choose drawable' | awk '{print $1}' | head -n 1)
if [ -n "$chooser" ]; then
  xdotool windowmove "$chooser" 480 0; sleep 2
  xdotool mousemove 817 83 click 1; sleep 1
  xdotool mousemove 778 299 click 1; sleep 1
fi
xdotool mousemove 1200 850
sleep 3
xwininfo -root -tree | grep -v 'has no name'
[ -n "$id" ] && xwd -id "$id" -silent | xwdtopnm 2>/dev/null | pnmtopng > {w}/dialog.png
xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng > {w}/screen.png
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(CHECKOUT / "docs" / "screenshots" / "dialog.png"))
    parser.add_argument("--screen", help="also save the whole screen here")
    parser.add_argument("--gimp", choices=SERIES, default="3.0", help="GIMP series (default: 3.0)")
    args = parser.parse_args()
    root = ensure_chroot(args.gimp)
    ensure_gui_tools(root, args.gimp)
    python = CHECKOUT / ".venv" / "bin" / "python"
    gimp = Gimp3(root, CHECKOUT, python if python.exists() else Path(sys.executable), args.gimp)
    workdir = gimp.make_workdir()
    try:
        gimp.install_plugin(workdir)
        params = {"photo": str(CHECKOUT / "examples" / "photo.png"),
                  "painting": str(CHECKOUT / "examples" / "painting.jpg")}
        script = gimp.write_script(workdir, "dialog.py", params)
        run = gimp.run_gui(script, workdir, DRIVER.replace("{w}", workdir), timeout=300)
        shot = gimp.host_path(workdir + "/dialog.png")
        if not shot.exists() or shot.stat().st_size == 0:
            print(run.report())
            print("No dialog screenshot was taken (see GIMP's output above).")
            return 1
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, args.out)
        if args.screen:
            shutil.copy(gimp.host_path(workdir + "/screen.png"), args.screen)
        print("dialog screenshot: %s (%.0f s)" % (args.out, run.seconds))
        return 0
    finally:
        gimp.remove_workdir(workdir)


if __name__ == "__main__":
    sys.exit(main())
