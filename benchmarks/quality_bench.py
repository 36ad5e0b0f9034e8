"""Quality benchmark (issue 12): photos x paintings x presets, one table and one contact sheet.

For every photo, painting and preset it runs the engine's command line once
(`python -m core PHOTO PAINTING -o OUT --preset P --size S --device cpu`, one run at a time;
--device cuda for a GPU)
and records, per result:

* wall and CPU seconds of that run (`measure.py`'s method: the run is the only child);
* the independent evaluator's Gram style distance and content distance (`evaluate.py`,
  its own VGG-19, evaluation size --eval-size);
* a style distance that is not a Gram loss: sliced Wasserstein over VGG features, as in
  the quality-anchor notes: for relu1_1, relu2_1, relu3_1 and relu4_1 (the evaluator's
  network), the features of the result and of the style (resized to the result's pixel
  count) are projected on 64 fixed random unit directions (seed 0); each projection is
  summarised by 256 quantiles; the layer's distance is the mean over directions of the
  mean squared difference of the quantiles divided by the variance of the style's
  projection; the score is the mean over the four layers (0: the same distribution).
  The style is the painted area only (PAINTED_AREA): a photo's frame around the painting
  is not its style, and a distance against the whole photo rewarded results that paint the
  frame (crowsonkb's, with The Starry Night's black and cream bands a few pixels inside
  every edge: benchmarks/README.md, "The frame in the style distance"). The distance against
  the whole photo is kept as sliced_w2_with_frame;
* the border step (`border_step.py`), the frame a result adds beyond the photo's own, and
  the same measure inside the picture (its 90th percentile), what strokes alone give.

Writes into --out: the results (PNG), results.json, results.md (a Markdown table) and
contact_sheet.jpg (one row per photo and preset, one column per painting). With --score
(another program's results) only scores.json, with --timing's wall and CPU seconds.

    .venv/bin/python benchmarks/quality_bench.py --size 256 --out /tmp/quality
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import border_step  # noqa: E402
import evaluate  # noqa: E402

ROOT = HERE.parent
PHOTOS = ("examples/photo.png", "benchmarks/data/astronaut.png", "benchmarks/data/coffee.jpg")
PAINTINGS = ("benchmarks/data/starry_night.jpg", "benchmarks/data/shipwreck.jpg",
             "benchmarks/data/the_scream.jpg")
PRESETS = ("preview", "balanced")
# The painted area of the paintings whose photos show a frame, as fractions of the photo's
# width and height (left, top, right, bottom): found with core.style_frame.find_frame and
# checked by eye on 4x crops of the edges (The Starry Night, 752x600: a black band, then a
# cream line; The Scream, 1200x1528 in ../shared/images: bare board on the right).
PAINTED_AREA = {"starry_night.jpg": (26 / 752, 20 / 600, 729 / 752, 581 / 600),
                "the_scream.jpg": (0.0, 0.0, 1150 / 1200, 1.0)}
SWD_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
SWD_DIRECTIONS = 64
SWD_QUANTILES = 256
THUMB = 256  # longest side of a contact-sheet cell


def run_engine(python: str, photo: str, painting: str, out: Path, preset: str, size: int,
               extra: list[str], device: str = "cpu") -> dict:
    """One engine run as a child process; its own wall and CPU seconds."""
    command = [python, "-m", "core", photo, painting, "-o", str(out), "--preset", preset,
               "--size", str(size), "--device", device] + extra
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit("engine failed: %s\n%s" % (" ".join(command), completed.stderr[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"command": " ".join(command), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "load": round(os.getloadavg()[0], 2)}


def _quantiles(projections: torch.Tensor) -> torch.Tensor:
    """N x D projections -> SWD_QUANTILES x D quantiles (nearest rank)."""
    ordered, _ = projections.sort(dim=0)
    count = ordered.shape[0]
    ranks = ((torch.arange(SWD_QUANTILES, dtype=torch.float64) + 0.5) / SWD_QUANTILES * (count - 1)).round()
    return ordered[ranks.long()]


class SlicedWasserstein:
    """The non-Gram style distance of the quality-anchor notes, against one style image."""

    def __init__(self, layers: dict, style: Image.Image, pixels: int) -> None:
        self.layers = layers
        self.directions: dict[str, torch.Tensor] = {}
        self.targets: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        generator = torch.Generator().manual_seed(0)
        style_image = evaluate.resize_pixels(style, pixels)
        with torch.no_grad():
            found = evaluate.features(layers, evaluate.caffe_tensor(style_image), SWD_LAYERS)
        for name in SWD_LAYERS:
            channels = found[name].shape[1]
            directions = torch.randn(channels, SWD_DIRECTIONS, generator=generator)
            self.directions[name] = directions / directions.norm(dim=0, keepdim=True)
            projections = self._project(found[name], name)
            self.targets[name] = (_quantiles(projections), projections.var(dim=0))

    def _project(self, feature: torch.Tensor, name: str) -> torch.Tensor:
        flat = feature[0].reshape(feature.shape[1], -1).t()
        return flat @ self.directions[name]

    def score(self, picture: Image.Image) -> float:
        with torch.no_grad():
            found = evaluate.features(self.layers, evaluate.caffe_tensor(picture), SWD_LAYERS)
        per_layer = []
        for name in SWD_LAYERS:
            target, variance = self.targets[name]
            ours = _quantiles(self._project(found[name], name))
            per_layer.append(float((((ours - target) ** 2).mean(dim=0) / variance.clamp_min(1e-12)).mean()))
        return sum(per_layer) / len(per_layer)


def painted_area(image: Image.Image, painting: str) -> Image.Image:
    """`image`, the photo of `painting`, without the frame it shows (PAINTED_AREA)."""
    left, top, right, bottom = PAINTED_AREA.get(Path(painting).name, (0.0, 0.0, 1.0, 1.0))
    width, height = image.size
    return image.crop((round(left * width), round(top * height), round(right * width),
                       round(bottom * height)))


def score(result: Path, photo: str, painting: str, eval_size: int, layers: dict) -> dict:
    judge = evaluate.Evaluator(str(ROOT / photo), str(ROOT / painting), eval_size=eval_size)
    scores = judge.score(str(result))
    picture = Image.open(result).convert("RGB").resize(judge.size, Image.BICUBIC)
    pixels = judge.size[0] * judge.size[1]
    style = Image.open(ROOT / painting).convert("RGB")
    swd = SlicedWasserstein(layers, painted_area(style, painting), pixels)
    with_frame = SlicedWasserstein(layers, style, pixels)
    result_rgb, photo_rgb = border_step.load_rgb(str(result)), border_step.load_rgb(str(ROOT / photo))
    steps = border_step.border_steps(result_rgb, photo_rgb)
    worst = max(steps, key=steps.get)
    return {"style": round(scores["style"], 4), "content": round(scores["content"], 4),
            "sliced_w2": round(swd.score(picture), 4),
            "sliced_w2_with_frame": round(with_frame.score(picture), 4),
            "border_step": round(steps[worst], 1), "border_side": worst,
            "interior_p90": border_step.interior_p90(result_rgb, photo_rgb)}


def contact_sheet(rows: list[dict], photos: list[str], paintings: list[str], presets: list[str],
                  path: Path) -> None:
    """Row 0: the paintings; then one row per photo and preset: the photo, then its results."""
    cell = THUMB + 8

    def thumb(image_path: Path) -> Image.Image:
        image = Image.open(image_path).convert("RGB")
        image.thumbnail((THUMB, THUMB), Image.LANCZOS)
        return image

    lines = 1 + len(photos) * len(presets)
    sheet = Image.new("RGB", ((1 + len(paintings)) * cell, lines * (cell + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, painting in enumerate(paintings, start=1):
        sheet.paste(thumb(ROOT / painting), (column * cell, 14))
        draw.text((column * cell, 0), Path(painting).stem, fill="black")
    line = 1
    for photo in photos:
        for preset in presets:
            top = line * (cell + 14)
            sheet.paste(thumb(ROOT / photo), (0, top + 14))
            draw.text((0, top), "%s, %s" % (Path(photo).stem, preset), fill="black")
            for column, painting in enumerate(paintings, start=1):
                row = next(r for r in rows
                           if (r["photo"], r["painting"], r["preset"]) == (photo, painting, preset))
                sheet.paste(thumb(Path(row["result"])), (column * cell, top + 14))
                draw.text((column * cell, top), "%.0f s  swd %.3f  border %.1f" % (
                    row["wall_s"], row["sliced_w2"], row["border_step"]), fill="black")
            line += 1
    sheet.save(path, quality=85)


def upscaled(photo: str, size: int, out: Path) -> str:
    """`photo`, or a bicubic enlargement of it to `size` on its longest side, saved in `out`."""
    image = Image.open(ROOT / photo).convert("RGB")
    if max(image.size) >= size:
        return photo
    scale = size / max(image.size)
    path = out / ("%s-%d.png" % (Path(photo).stem, size))
    image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC).save(path)
    return str(path.resolve())


def markdown(rows: list[dict]) -> str:
    lines = ["| photo | painting | preset | wall s | CPU s | Gram style | content | sliced W2 "
             "| (with frame) | border step | same bands inside, 90th percentile |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append("| %s | %s | %s | %s | %s | %.4f | %.4f | %.4f | %.4f | %.1f (%s) | %.1f |" % (
            Path(row["photo"]).stem, Path(row["painting"]).stem, row["preset"], row.get("wall_s", "-"),
            row.get("cpu_s", "-"), row["style"], row["content"], row["sliced_w2"],
            row["sliced_w2_with_frame"], row["border_step"], row["border_side"], row["interior_p90"]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="working size (--size of the engine)")
    parser.add_argument("--eval-size", type=int, default=evaluate.DEFAULT_EVAL_SIZE)
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    parser.add_argument("--paintings", nargs="+", default=list(PAINTINGS))
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--python", default=sys.executable, help="the engine's Python")
    parser.add_argument("--device", default="cpu", help="the engine's --device (default cpu)")
    parser.add_argument("--out", default="/tmp/quality", help="folder for results and the sheet")
    parser.add_argument("--engine-args", default="",
                        help="more engine options for every run, e.g. '--style-loss w2'")
    parser.add_argument("--upscale", action="store_true",
                        help="enlarge photos smaller than --size to it first (bicubic), as "
                             "crowsonkb's program does, so that every contender works at --size")
    parser.add_argument("--score", nargs="+", metavar="IMAGE",
                        help="only score these images (another program's results) against the "
                             "first --photos and --paintings")
    parser.add_argument("--timing", nargs="+", metavar="JSON", default=[],
                        help="with --score: measure.py's record of the run that made each image, "
                             "in the same order (its wall and CPU seconds and peak memory)")
    args = parser.parse_args(argv)
    if args.timing and len(args.timing) != len(args.score or ()):
        parser.error("--timing takes one measure.py record per --score image")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    layers = evaluate.load_vgg19()
    if args.score:
        rows = [dict(score(Path(image), args.photos[0], args.paintings[0], args.eval_size, layers),
                     photo=args.photos[0], painting=args.paintings[0], preset=Path(image).name)
                for image in args.score]
        for row, timing in zip(rows, args.timing):
            record = json.loads(Path(timing).read_text())
            row.update({key: record[key] for key in ("wall_s", "cpu_s", "peak_rss_mib", "finished")})
        # The record written by the tool, not copied by hand: what was scored and how.
        command = ["benchmarks/quality_bench.py"] + list(sys.argv[1:] if argv is None else argv)
        (out / "scores.json").write_text(json.dumps({"scored_by": command, "rows": rows}, indent=1))
        print(markdown(rows))
        return 0
    photos = [upscaled(photo, args.size, out) for photo in args.photos] if args.upscale else args.photos
    rows = []
    for photo in photos:
        for painting in args.paintings:
            for preset in args.presets:
                result = out / ("%s-%s-%s.png" % (Path(photo).stem, Path(painting).stem, preset))
                row = {"photo": photo, "painting": painting, "preset": preset, "size": args.size,
                       "result": str(result)}
                row.update(run_engine(args.python, photo, painting, result, preset, args.size,
                                      args.engine_args.split(), args.device))
                row.update(score(result, photo, painting, args.eval_size, layers))
                rows.append(row)
                print(json.dumps(row), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    (out / "results.json").write_text(json.dumps({"commit": commit, "rows": rows}, indent=1))
    (out / "results.md").write_text(markdown(rows))
    contact_sheet(rows, photos, args.paintings, args.presets, out / "contact_sheet.jpg")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
