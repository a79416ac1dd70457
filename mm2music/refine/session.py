"""Refine one cue of a project with sequential line search: each round, previews along a slider; the pick
updates the model; at the end the best point's music goes into the score (a revise, with history).

State lives in the project, ``refine/cueNN/``: ``state.json`` (the engine's :meth:`to_json`, the cue as it was
when the refine started, and which preview holds each point's music) and ``roundRR/pK.wav`` + ``pK.json``
(the preview audio and its music). A later ``refine`` of the same cue continues from that state; a web page
can drive the same object (``next_round`` / ``choose`` / ``apply``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mm2music.project import CueEntry, ProjectError, cue_from_json, cue_to_json, load_mix, load_project, music_from_json, music_to_json
from mm2music.refine.sls import SequentialLineSearch
from mm2music.refine.space import AXES, describe, point_of, settings_at

log = logging.getLogger(__name__)


@dataclass
class Preview:
    """One point of a slider: its position (0 = the current best), settings, and files."""

    position: float
    point: list[float]
    settings: str  # described for people
    wav: Path
    music: Path


class RefineSession:
    """Refine cue ``cue`` (1-based) of the project in ``folder`` with ``previews`` points per slider."""

    def __init__(self, folder: str | Path, cue: int, previews: int = 5, seed: int | None = None):
        if not 3 <= previews <= 12:
            raise ProjectError(f"--previews {previews} is out of range; give 3-12 points per slider")
        self.project = load_project(folder)
        self.index = self.project.cue_index(cue)
        self.cue_number = cue
        self.previews = previews
        self.dir = self.project.folder / "refine" / f"cue{cue:02d}"
        state = self.dir / "state.json"
        entry = self.project.cues[self.index]
        if state.is_file():
            data = json.loads(state.read_text(encoding="utf-8"))
            self.engine = SequentialLineSearch.from_json(data["engine"])
            self.base = cue_from_json(data["cue"], str(state))
            self.seed = int(data["seed"])
            self.heard: dict[int, str] = {int(k): v for k, v in data["heard"].items()}
        else:
            self.base = entry.music.cue
            self.seed = entry.seed if seed is None else seed
            self.engine = SequentialLineSearch(len(AXES), seed=self.seed, start=point_of(self.base))
            self.heard = {}
        self._model = None
        self.pending: list[np.ndarray] = []

    def _save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps({"cue": cue_to_json(self.base), "seed": self.seed, "axes": list(AXES),
                                   "engine": self.engine.to_json(), "heard": self.heard}, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.dir / "state.json")

    def _preview(self, x: np.ndarray, folder: Path, k: int) -> Preview:
        """Compose the cue at point ``x`` (the refine's seed, so only the settings differ) and render it."""
        from mm2music.render.synth import write_wav
        from mm2music.revise import _render_config, apply_settings, deliver_preview, load_model, render_span, write_cue

        if self._model is None:
            self._model = load_model(self.project)
        settings = settings_at(self.base, x)
        cues = [e.music.cue for e in self.project.cues]
        cues[self.index] = self.base
        cue = apply_settings(cues, self.index, settings, f"refine cue {self.cue_number}")
        music = write_cue(self.project, self.index, cue, self.seed, *self._model)
        data = music_to_json(music, self.seed)
        data.update(point=[float(v) for v in x], pinned=settings.pinned())
        path = folder / f"p{k}.json"
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        config = _render_config(self.project)
        alt = self.project.music[:self.index] + [music] + self.project.music[self.index + 1:]
        n_total = len(load_mix(self.project.folder, mmap=True, samples=self.project.samples(config.sample_rate)))
        start, audio = render_span(alt, self.index, self.project.hits, n_total, config)
        wav = folder / f"p{k}.wav"
        write_wav(wav, deliver_preview(alt, start, audio, config), config.sample_rate)
        return Preview(0.0, data["point"], describe(settings), wav, path)

    def next_round(self) -> list[Preview]:
        """The next slider's previews, written to ``refine/cueNN/roundRR/`` (the first is the current best)."""
        line = self.engine.next_line()
        self.pending = self.engine.slider(line, self.previews)
        folder = self.dir / f"round{self.engine.rounds + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for k, (t, x) in enumerate(zip(np.linspace(0, 1, self.previews), self.pending), 1):
            p = self._preview(x, folder, k)
            p.position = float(t)
            out.append(p)
        return out

    def choose(self, k: int, previews: list[Preview]) -> None:
        """The person picked preview ``k`` (1-based) of the last round."""
        if not self.pending:
            raise ProjectError("no slider to choose on; call next_round first")
        if not 1 <= k <= len(self.pending):
            raise ProjectError(f"pick {k} is not on the slider; give 1-{len(self.pending)}")
        self.engine.observe(self.pending, k - 1)
        for p in previews:
            self.heard[self.engine.gp.index(p.point)] = str(p.music.relative_to(self.project.folder))
        self.pending = []
        self._save()

    def best(self) -> tuple[list[float], Path]:
        """The best point so far and the file of its music."""
        x = self.engine.best()
        rel = self.heard.get(self.engine.gp.index(x))
        if rel is None:
            raise ProjectError(f"refine of cue {self.cue_number} has no pick yet; run at least one round")
        return [float(v) for v in x], self.project.folder / rel

    def apply(self):
        """Put the best point's music (exactly what the person heard) into the score: a revise with history."""
        from mm2music.revise import commit_cues

        _, path = self.best()
        data = json.loads(path.read_text(encoding="utf-8"))
        music, seed = music_from_json(data, str(path))
        project = load_project(self.project.folder)  # as it is now: another edit may have landed since the refine began
        old = self.project.cues[self.index].music.cue
        now = project.cues[self.index].music.cue if self.index < len(project.cues) else None
        if now is None or abs(now.start - old.start) > 1e-6 or abs(now.end - old.end) > 1e-6:
            raise ProjectError(f"cue {self.cue_number} of '{project.folder}' no longer spans {old.start:.2f}-{old.end:.2f} s "
                               "(the project was scored again); start the refine again")
        entry = project.cues[self.index]
        self.project = project
        return commit_cues(project, {self.index: CueEntry(music, seed, entry.locked, {**entry.pinned, **data["pinned"]})})
