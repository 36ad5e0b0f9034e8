"""Run the real GIMP 3.0 and 3.2 headless in cached Debian chroots.

The host runs Debian 12, whose GIMP is 2.10 without Python. Debian 13 (trixie) has GIMP
3.0 and Debian sid has GIMP 3.2, both with Python 3 plug-ins, so the harness builds one
chroot per GIMP series once (debootstrap, then GIMP and its Python bindings with apt
inside it), caches them under ~/.cache/neural-style-gimp/ and runs the GIMP binaries it
finds in them (`gimp-console-3.0`, `gimp-console-3.2`, ...).

Every GIMP run happens inside its own mount and PID namespace (`unshare`): /proc and the
bind mounts that make the checkout and the engine's Python visible at the same paths exist
only in that namespace. When the run ends, times out, or pytest is interrupted, killing the
namespace's first process kills everything in it and the kernel drops the mounts, so no
mount can be left behind on the host and the cached chroot is always safe to delete.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neural-style-gimp"
READY_MARKER = ".neural-style-ready"
PACKAGES = ("gimp", "python3-gi", "gir1.2-gimp-3.0")
# For GUI runs (the undo test presses Ctrl+Z; the dialog screenshot): a virtual X server,
# window listing, key presses, capture. Caches built before these were added get them
# from ensure_gui_tools().
GUI_PACKAGES = ("xvfb", "xauth", "x11-utils", "x11-apps", "netpbm", "xdotool")
GUI_PROGRAMS = ("usr/bin/Xvfb", "usr/bin/xwininfo", "usr/bin/xwd", "usr/bin/pnmtopng", "usr/bin/xdotool")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
RESULT_PREFIX = "NSGIMP3-RESULT "
# Documentation, manual pages and translations are not needed to run GIMP in the C
# locale; leaving them out keeps each chroot ~200 MB smaller.
DPKG_SLIM = ("path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\n"
             "path-exclude=/usr/share/info/*\npath-exclude=/usr/share/locale/*\n")


@dataclass(frozen=True)
class GimpRelease:
    """One GIMP 3 series and the Debian suite whose chroot carries it."""

    series: str  # "3.0": the -3.x suffix of GIMP's binaries
    suite: str
    chroot_name: str
    apt_conf: str = ""  # written to the chroot's /etc/apt/apt.conf.d/ before apt runs


RELEASES = {
    "3.0": GimpRelease("3.0", "trixie", "trixie-gimp3"),
    # The mirror's sid Release files are past their Valid-Until date; apt refuses them
    # unless told not to check it (debootstrap does not check it).
    "3.2": GimpRelease("3.2", "sid", "sid-gimp32", 'Acquire::Check-Valid-Until "false";\n'),
}
SERIES = tuple(RELEASES)

# Where install.py puts the plug-in's configuration inside a GIMP 3 plug-ins folder.
CONFIG_RELPATH = "neural_style_transfer/neural_style_config.json"

CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Host directories that must never be bind-mounted over the chroot's own copies.
_SYSTEM_DIRS = {"/", "/usr", "/usr/local", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/var",
                "/tmp", "/proc", "/sys", "/dev", "/root", "/home", "/opt", "/run"}


class Unavailable(Exception):
    """GIMP 3 cannot run on this machine; the message says why in plain words."""


class HarnessError(Exception):
    """Something went wrong while preparing or running GIMP; the message carries the log."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip the calling test with the reason; fail instead under CI, which must run them."""
    import pytest

    if in_ci():
        pytest.fail("real GIMP 3 tests cannot run, and CI must not skip them: %s" % reason, pytrace=False)
    pytest.skip("real GIMP 3 tests cannot run here: %s" % reason)


# --------------------------------------------------------------------------- building


def _log(message: str) -> None:
    sys.stderr.write("[gimp3-harness] %s\n" % message)
    sys.stderr.flush()


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` that this (the host's) mount namespace sees."""
    prefix = os.path.realpath(path)
    found = []
    with open("/proc/mounts") as mounts:
        for line in mounts:
            # /proc/mounts escapes spaces and such as octal: \040.
            point = line.split()[1].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                found.append(point)
    return found


def safe_rmtree(path: Path) -> None:
    """Delete a chroot tree, but never one with anything mounted inside it.

    A bind mount of the checkout inside a chroot would make rm -rf delete the checkout.
    """
    busy = mounts_under(path)
    if busy:
        raise HarnessError("refusing to delete %s: still mounted inside it: %s" % (path, ", ".join(busy)))
    shutil.rmtree(path, ignore_errors=True)


def debian_mirror() -> str:
    """The Debian mirror the host's apt already uses."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1]
    return DEFAULT_MIRROR


def _check_registry(mirror: str, release: GimpRelease) -> None:
    url = "%s/dists/%s/Release" % (mirror.rstrip("/"), release.suite)
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            reply.read(64)
    except OSError as error:
        raise Unavailable("the GIMP %s chroot is not built yet and the Debian package registry "
                          "is not reachable (%s: %s)" % (release.series, url, error))


def _run_logged(command: list[str], log: Path, timeout: float) -> None:
    with open(log, "ab") as out:
        out.write(("\n$ %s\n" % " ".join(shlex.quote(part) for part in command)).encode())
        out.flush()
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError("timed out after %d s: %s\n%s" % (timeout, command[0], _tail(log)))
    if done.returncode != 0:
        raise HarnessError("%s failed with exit status %d:\n%s" % (command[0], done.returncode, _tail(log)))


def _tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ensure_debootstrap(log: Path) -> None:
    if shutil.which("debootstrap"):
        return
    if not shutil.which("apt-get"):
        raise Unavailable("debootstrap is missing and there is no apt-get to install it")
    _log("installing debootstrap on the host with apt-get")
    try:
        _run_logged(["apt-get", "update"], log, 600)
        _run_logged(["apt-get", "install", "-y", "debootstrap"], log, 600)
    except HarnessError as error:
        raise Unavailable("debootstrap is missing and could not be installed: %s" % error)
    if not shutil.which("debootstrap"):
        raise Unavailable("debootstrap is missing and apt-get did not install it")


def check_host() -> None:
    """Raise Unavailable where this machine cannot run the chroot at all."""
    if not sys.platform.startswith("linux"):
        raise Unavailable("the GIMP 3 chroot needs Linux")
    if os.geteuid() != 0:
        raise Unavailable("the GIMP 3 chroot needs root (chroot, mount, unshare)")
    if not shutil.which("unshare") or not shutil.which("chroot"):
        raise Unavailable("unshare or chroot is missing (util-linux / coreutils)")
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise Unavailable("cannot create mount namespaces here (unshare: %s)" % probe.stderr.strip())


@contextlib.contextmanager
def _cache_lock():
    """One lock for every chroot: builds run one after the other (each is disk and
    network heavy), and no pytest reads a chroot while another adds packages to it."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def release_of(series: str) -> GimpRelease:
    try:
        return RELEASES[series]
    except KeyError:
        raise HarnessError("no chroot is known for GIMP %s (known: %s)" % (series, ", ".join(SERIES)))


def ensure_chroot(series: str = "3.0") -> Path:
    """The ready chroot for a GIMP series: reuse the cached one, or build it (a few
    minutes and about 1 GB each)."""
    release = release_of(series)
    check_host()
    root = CACHE_DIR / release.chroot_name
    if (root / READY_MARKER).exists():
        return root
    with _cache_lock():  # another pytest may be building it right now
        if (root / READY_MARKER).exists():
            return root
        _build_chroot(root, release)
    return root


def _apt_install(packages: tuple[str, ...]) -> str:
    return ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
            "--no-install-recommends " + " ".join(packages) + " && apt-get clean")


def _build_chroot(root: Path, release: GimpRelease) -> None:
    log = CACHE_DIR / ("build-%s.log" % release.chroot_name)
    log.write_text("")
    _ensure_debootstrap(log)
    mirror = debian_mirror()
    _check_registry(mirror, release)
    building = Path(tempfile.mkdtemp(prefix=release.chroot_name + ".building-", dir=CACHE_DIR))
    building.chmod(0o755)  # a root file system: programs that drop root (mandb) must read it
    _log("building the GIMP %s chroot in %s (log: %s); this takes a few minutes"
         % (release.series, building, log))
    try:
        _run_logged(["debootstrap", "--variant=minbase", release.suite, str(building), mirror], log, 1800)
        shutil.copy("/etc/resolv.conf", building / "etc" / "resolv.conf")
        (building / "etc" / "dpkg" / "dpkg.cfg.d" / "01-neural-style-slim").write_text(DPKG_SLIM)
        if release.apt_conf:
            (building / "etc" / "apt" / "apt.conf.d" / "99neural-style").write_text(release.apt_conf)
        # GIMP goes in with apt inside the chroot, not debootstrap --include: minbase's
        # dependency resolution leaves dconf/gtk unconfigured.
        _run_logged(_namespace_command(building, [], _apt_install(PACKAGES + GUI_PACKAGES)), log, 1800)
        console = gimp_binary(building, "gimp-console")
        if not console.endswith("-" + release.series):
            raise HarnessError("Debian %s now carries %s, not GIMP %s; the harness's table of "
                               "releases needs updating" % (release.suite, console, release.series))
        _run_logged(_namespace_command(building, [], "%s --version" % console), log, 120)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        (building / READY_MARKER).write_text("built %s from %s %s\n" % (stamp, mirror, release.suite))
        if root.exists():  # a stale, unfinished tree from an older build
            safe_rmtree(root)
        building.rename(root)
    except BaseException:
        safe_rmtree(building)
        raise
    _log("the GIMP %s chroot is ready at %s" % (release.series, root))


def gimp_binary(root: Path, stem: str) -> str:
    """GIMP's versioned binary in a chroot, found by pattern: `gimp-console-3.0` in
    trixie, `gimp-console-3.2` in sid (which has no -3.0 one). Highest series wins."""
    found = []
    for path in (root / "usr" / "bin").glob(stem + "-3.*"):
        suffix = path.name[len(stem) + 3:]
        if suffix.isdigit():
            found.append((int(suffix), path.name))
    if not found:
        raise HarnessError("no %s-3.* binary in %s/usr/bin" % (stem, root))
    return max(found)[1]


def ensure_gui_tools(root: Path, series: str = "3.0") -> None:
    """Add Xvfb and screen-capture tools to a cached chroot (once; needs the registry)."""
    if all((root / program).exists() for program in GUI_PROGRAMS):
        return
    with _cache_lock():
        if all((root / program).exists() for program in GUI_PROGRAMS):
            return
        _check_registry(debian_mirror(), release_of(series))
        log = CACHE_DIR / ("gui-tools-%s.log" % release_of(series).chroot_name)
        log.write_text("")
        _log("installing %s into the chroot (log: %s)" % (" ".join(GUI_PACKAGES), log))
        _run_logged(_namespace_command(root, [], _apt_install(GUI_PACKAGES)), log, 1200)


# --------------------------------------------------------------------------- running


def _namespace_command(root: Path, binds: list[Path], inner: str) -> list[str]:
    """A command that runs `inner` with sh inside the chroot, in private namespaces.

    --pid --fork --kill-child: when the namespace's first process dies (end of run,
    timeout, Ctrl-C), the kernel kills everything left inside, engine included, and the
    mounts disappear with the namespace.
    """
    steps = ["set -e", "mount -t proc proc %s" % shlex.quote(str(root / "proc"))]
    for path in binds:
        target = root / str(path).lstrip("/")
        steps.append("mount --bind %s %s" % (shlex.quote(str(path)), shlex.quote(str(target))))
    # A clean environment: host variables must not reach GIMP. A PATH that starts with the
    # engine's (bind-mounted) Python, as pyenv's shims set it, would make GIMP run its own
    # Python plug-ins, python-eval included, with that Python, which has no `gi`.
    steps.append("exec env -i PATH=%s chroot %s /bin/sh -c %s"
                 % (CHROOT_PATH, shlex.quote(str(root)), shlex.quote(inner)))
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "/bin/sh", "-c", "; ".join(steps)]


def engine_paths(engine_python: Path, checkout: Path) -> list[Path]:
    """Host paths the chroot must see for the engine to start: checkout, venv, base Python."""
    script = "import sys; print(sys.prefix); print(sys.base_prefix)"
    probe = subprocess.run([str(engine_python), "-c", script], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        raise HarnessError("the engine Python %s does not start: %s" % (engine_python, probe.stderr))
    prefix, base_prefix = probe.stdout.split("\n")[:2]
    wanted = []
    for raw in (str(checkout), prefix, base_prefix):
        path = os.path.normpath(raw)
        if path in _SYSTEM_DIRS:
            raise Unavailable(
                "the engine's Python lives in %s, which the chroot cannot see without hiding its own "
                "system; make the engine venv from a Python installed elsewhere (for example pyenv)" % path)
        wanted.append(path)
    # Drop paths that another one already contains (a venv inside the checkout, say).
    kept = []
    for path in sorted(set(wanted), key=len):
        if not any(path == other or path.startswith(other + "/") for other in kept):
            kept.append(path)
    return [Path(path) for path in kept]


@dataclass
class GimpRun:
    """What one GIMP start produced."""

    returncode: int
    output: str
    seconds: float
    timed_out: bool
    workdir: str = ""
    results: dict = field(default_factory=dict)

    def report(self) -> str:
        state = "timed out" if self.timed_out else "exit status %d" % self.returncode
        return "GIMP run: %s after %.1f s. Full GIMP output:\n%s" % (state, self.seconds, self.output)


def parse_results(output: str) -> dict:
    """The JSON result lines the GIMP-side script printed, keyed by their "case"."""
    results = {}
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            record = json.loads(line[len(RESULT_PREFIX):])
            results[record["case"]] = record
    return results


def decode_bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


class Gimp3:
    """A ready chroot for one GIMP series plus the host paths GIMP must see in it."""

    def __init__(self, root: Path, checkout: Path, engine_python: Path, series: str = "3.0"):
        self.root = root
        self.series = series
        self.checkout = checkout
        self.engine_python = engine_python
        self.binds = engine_paths(engine_python, checkout)
        self.console = gimp_binary(root, "gimp-console")  # headless
        self.gui = gimp_binary(root, "gimp")
        for path in self.binds:
            (root / str(path).lstrip("/")).mkdir(parents=True, exist_ok=True)

    def host_path(self, inside: str) -> Path:
        """Where a path inside the chroot lies on the host."""
        return self.root / inside.lstrip("/")

    def make_workdir(self) -> str:
        """A fresh folder in the chroot's /tmp for one test's profile and scripts."""
        host = Path(tempfile.mkdtemp(prefix="ns-gimp3-", dir=self.root / "tmp"))
        host.chmod(0o755)
        return "/" + str(host.relative_to(self.root))

    def remove_workdir(self, inside: str) -> None:
        safe_rmtree(self.host_path(inside))

    def install_plugin(self, workdir: str) -> Path:
        """Install the plug-in into `workdir`'s GIMP profile with the project's install.py.

        The configuration it writes names the engine Python by its host path, which the
        bind mounts make valid inside the chroot too. Returns the plug-ins folder (host path).
        """
        plugins = self.host_path(workdir + "/profile/plug-ins")
        command = [sys.executable, str(self.checkout / "install.py"), "--gimp-dir", str(plugins),
                   "--gimp-version", "3", "--python", str(self.engine_python), "--plugin-only", "--no-demo"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise HarnessError("install.py failed (exit status %d):\n%s%s"
                               % (done.returncode, done.stdout, done.stderr))
        python = json.loads((plugins / CONFIG_RELPATH).read_text())["python"]
        if not any(python.startswith(str(path) + "/") for path in self.binds):
            raise HarnessError("install.py recorded the engine Python %s, which the chroot does not see "
                               "(visible: %s)" % (python, ", ".join(map(str, self.binds))))
        return plugins

    def shell(self, inner: str, timeout: float) -> GimpRun:
        """Run a shell command inside the chroot with the engine paths mounted."""
        command = _namespace_command(self.root, self.binds, inner)
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        timed_out = False
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            process.kill()
            output, _ = process.communicate()
        finally:
            # Ctrl-C or any other exit: kill the namespace's first process, which takes
            # GIMP, its plug-ins, the engine and the mounts with it.
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        text = output.decode("utf-8", errors="replace")
        run = GimpRun(process.returncode, text, time.monotonic() - started, timed_out)
        run.results = parse_results(text)
        return run

    def run_batch(self, script: str, workdir: str, timeout: float = 300, fonts: bool = False) -> GimpRun:
        """Run a Python script (a path inside the chroot) in gimp-console's python-fu-eval.

        The profile is `workdir`/profile, so plug-ins installed there are the only user ones.
        Fonts are not loaded (-f: a faster start) unless `fonts` is set (text layers need them).
        """
        batch = "exec(open(%r).read())" % script
        # TMPDIR per run: the plug-in's run folders land where a test can look for leftovers.
        # GIMP is not exec'd: as PID 1 of the namespace, GIMP 3.2 reports plug-ins that
        # exited normally as "Zombie plug-in ... never exited"; the shell stays PID 1.
        inner = ("export HOME={w}/home GIMP3_DIRECTORY={w}/profile TMPDIR={w}/tmp "
                 "LANG=C.UTF-8 LC_ALL=C.UTF-8; mkdir -p \"$HOME\" \"$GIMP3_DIRECTORY\" \"$TMPDIR\"; "
                 "{gimp} {flags} --batch-interpreter=python-fu-eval -b {b} --quit; exit $?"
                 ).format(w=shlex.quote(workdir), b=shlex.quote(batch), gimp=self.console,
                          flags="-id" if fonts else "-idf")
        run = self.shell(inner, timeout)
        run.workdir = workdir
        return run

    def gimp_side(self, name: str) -> str:
        """Path (the same inside the chroot) of a script in tests/gimp3/gimp_side/."""
        return str(self.checkout / "tests" / "gimp3" / "gimp_side" / name)

    def write_script(self, workdir: str, gimp_side: str, params: dict) -> str:
        """A batch script in `workdir` that sets PARAMS and runs a gimp_side/ script."""
        script = "%s/run-%s" % (workdir, gimp_side)
        self.host_path(script).write_text("import json\nPARAMS = json.loads(%r)\nexec(open(%r).read())\n"
                                          % (json.dumps(params), self.gimp_side(gimp_side)))
        return script

    def run_cases(self, workdir: str, cases: list[str], params: dict | None = None,
                  timeout: float = 300, fonts: bool = False) -> GimpRun:
        """Run cases of gimp_side/cases.py in one GIMP start; results keyed by case name."""
        script = self.write_script(workdir, "cases.py", dict(params or {}, cases=list(cases)))
        return self.run_batch(script, workdir, timeout, fonts=fonts)

    def run_gui(self, script: str, workdir: str, driver: str, timeout: float = 300) -> GimpRun:
        """Run the GIMP GUI (gimp-3.x) on a private Xvfb screen with a batch script, while
        the shell snippet `driver` works the screen (xwininfo, xwd, xdotool); GIMP is then
        closed. GIMP's own output goes to <workdir>/gimp.log and is appended to the run's."""
        batch = "exec(open(%r).read())" % script
        inner = """
export HOME={w}/home GIMP3_DIRECTORY={w}/profile TMPDIR={w}/tmp LANG=C.UTF-8 LC_ALL=C.UTF-8
mkdir -p "$HOME" "$GIMP3_DIRECTORY" "$TMPDIR"
echo '(show-welcome-dialog no)' > "$GIMP3_DIRECTORY/gimprc"
rm -f {w}/display
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>{w}/display >{w}/xvfb.log 2>&1 &
for i in $(seq 1 100); do [ -s {w}/display ] && break; sleep 0.1; done
export DISPLAY=:$(cat {w}/display)
{gimp} -df --batch-interpreter=python-fu-eval -b {b} >{w}/gimp.log 2>&1 &
GIMP_PID=$!
{driver}
kill $GIMP_PID 2>/dev/null; sleep 1; kill -9 $GIMP_PID 2>/dev/null
echo "----- GIMP output -----"; cat {w}/gimp.log
""".format(w=shlex.quote(workdir), b=shlex.quote(batch), driver=driver, gimp=self.gui)
        run = self.shell(inner, timeout)
        run.workdir = workdir
        return run

