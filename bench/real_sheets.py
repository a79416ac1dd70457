"""Contact sheets for labelling real footage by eye (the method behind ``bench/real_cuts.json``).

Candidates come from a permissive union (TransNetV2 probability > 0.05 and the frame's HSV change in the top
few percent); each candidate becomes one strip of frames around it, numbered, so a person can confirm,
move or reject it. An overview sheet of every ``--every``-th frame, with confirmed boundaries marked in red,
shows shots that no candidate caught.

    .venv/bin/python bench/real_sheets.py transnetv2_test --out /tmp/sheets            # candidate strips
    .venv/bin/python bench/real_sheets.py transnetv2_test --out /tmp/sheets --overview  # overview, labels marked
    .venv/bin/python bench/real_sheets.py megamind --out /tmp/sheets --frames 94:103 --size 200  # frame by frame
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import real_footage  # noqa: E402


def thumb_size(path: Path, size: str) -> tuple[int, int]:
    """``WxH`` as given, or ``W`` with the height that keeps the clip's display aspect (even, for ffmpeg)."""
    if "x" in size:
        w, h = (int(v) for v in size.split("x"))
        return w, h
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,sample_aspect_ratio",
           "-of", "json", str(path)]  # fmt: skip
    stream = json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)["streams"][0]
    sar = stream.get("sample_aspect_ratio", "1:1")
    num, den = (int(v) for v in sar.split(":")) if sar not in ("0:1", "N/A") else (1, 1)
    w = int(size)
    return w, 2 * round(w * stream["height"] * den / (stream["width"] * num) / 2)


def decode(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame as (N, height, width, 3) uint8, through ffmpeg, one per decoded frame as decord numbers them
    (without ``passthrough`` ffmpeg repeats the first frame of an AVI with packed B-frames: every label one late)."""
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-fps_mode", "passthrough", "-vf", f"scale={width}:{height}",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def candidates(path: Path, small: np.ndarray) -> list[int]:
    """Frames where a new shot may start: TransNetV2 > 0.05 or an HSV change in the top 4%."""
    from mm2music.media.cuts.transnet import TransNetV2Model

    probs = TransNetV2Model.load().predict(decode(path, 48, 27))
    hsv = np.stack([np.asarray(Image.fromarray(f).convert("HSV"), np.float32) for f in small])
    diff = np.abs(np.diff(hsv, axis=0)).mean(axis=(1, 2, 3))
    diff = np.concatenate([[0.0], diff])
    keep = (probs > 0.05) | (diff > np.percentile(diff, 96))
    out: list[int] = []
    for f in np.flatnonzero(keep):
        if out and f - out[-1] <= 2:
            if max(probs[f], diff[f] / 255) > max(probs[out[-1]], diff[out[-1]] / 255):
                out[-1] = int(f)
            continue
        out.append(int(f))
    return out


def strips(frames: np.ndarray, cands: list[int], out: Path, stem: str, per_sheet: int = 24) -> None:
    h, w = frames.shape[1:3]
    for s in range(0, len(cands), per_sheet):
        part = cands[s : s + per_sheet]
        cols, rows = 2, (len(part) + 1) // 2
        sheet = Image.new("RGB", (cols * (5 * w + 40), rows * (h + 14)), "white")
        draw = ImageDraw.Draw(sheet)
        for j, c in enumerate(part):
            x0, y0 = (j % cols) * (5 * w + 40), (j // cols) * (h + 14)
            draw.text((x0 + 2, y0), f"#{s + j} frame {c}", fill="black")
            for k, f in enumerate(range(c - 2, c + 3)):
                if 0 <= f < len(frames):
                    sheet.paste(Image.fromarray(frames[f]), (x0 + k * w, y0 + 12))
            draw.rectangle((x0 + 2 * w - 1, y0 + 11, x0 + 2 * w, y0 + 12 + h), fill="red")
        sheet.save(out / f"{stem}_strips_{s // per_sheet:02d}.png")


def overview(frames: np.ndarray, marks: set[int], out: Path, stem: str, every: int, per_row: int = 20, rows: int = 16) -> None:
    """Every ``every``-th frame; a red bar left of a thumbnail when a labelled boundary lies since the last one."""
    h, w = frames.shape[1:3]
    picks = list(range(0, len(frames), every))
    per_sheet = per_row * rows
    for s in range(0, len(picks), per_sheet):
        part = picks[s : s + per_sheet]
        sheet = Image.new("RGB", (per_row * (w + 4), ((len(part) + per_row - 1) // per_row) * (h + 12)), "white")
        draw = ImageDraw.Draw(sheet)
        for j, f in enumerate(part):
            x0, y0 = (j % per_row) * (w + 4) + 4, (j // per_row) * (h + 12)
            sheet.paste(Image.fromarray(frames[f]), (x0, y0 + 11))
            draw.text((x0, y0), str(f), fill="black")
            if any(f - every < m <= f for m in marks):
                draw.rectangle((x0 - 4, y0 + 11, x0 - 1, y0 + 11 + h), fill="red")
        sheet.save(out / f"{stem}_overview_{s // per_sheet:02d}.png")


def tiles(frames: np.ndarray, first: int, last: int, step: int, out: Path, stem: str, per_row: int = 10) -> Path:
    """Frames ``first``..``last`` (every ``step``-th), numbered, for deciding a boundary or a span frame by frame."""
    h, w = frames.shape[1:3]
    picks = list(range(max(first, 0), min(last, len(frames) - 1) + 1, step))
    rows = (len(picks) + per_row - 1) // per_row
    sheet = Image.new("RGB", (min(len(picks), per_row) * (w + 4), rows * (h + 12)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, f in enumerate(picks):
        x0, y0 = (j % per_row) * (w + 4), (j // per_row) * (h + 12)
        sheet.paste(Image.fromarray(frames[f]), (x0, y0 + 11))
        draw.text((x0, y0), str(f), fill="black")
    path = out / f"{stem}_frames_{first}_{last}.png"
    sheet.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", choices=sorted(real_footage.SOURCES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--overview", action="store_true", help="overview sheets with the committed labels marked")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--frames", metavar="A:B[:STEP]", help="one sheet of frames A..B, numbered (no candidates)")
    parser.add_argument("--size", default="128", help="thumbnail WxH, or a width W (the height keeps the clip's aspect)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = real_footage.fetch(args.clip)
    w, h = thumb_size(path, args.size)
    frames = decode(path, w, h)
    if args.frames:
        first, last, step = ([int(v) for v in args.frames.split(":")] + [1])[:3]
        print(tiles(frames, first, last, step, out, args.clip))
        return 0
    if args.overview:
        clip = real_footage.load_labels()["clips"][args.clip]
        marks = set(clip["cuts"]) | {g[0] for g in clip["gradual"]}
        overview(frames, marks, out, args.clip, args.every)
        return 0
    cands = candidates(path, frames)
    (out / f"{args.clip}_candidates.json").write_text(json.dumps(cands))
    strips(frames, cands, out, args.clip)
    print(f"{len(cands)} candidates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
