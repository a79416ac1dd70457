"""Loading what a scoring run needs later on a background thread, while the video decodes.

A fresh process spends seconds before it writes a note: importing torch, loading and quantizing the decoder,
then importing the writers' libraries (SciPy's filters, OpenTimelineIO) one after the other on the critical
path at the end of the run. Started before the analysis, :class:`Preload` first starts the process that will
write the MusicXML and the timeline figure (:mod:`mm2music.project.writer_process`, which imports music21 and
matplotlib itself, on the other core), then loads the decoder and imports those libraries on one thread of its
own, in the order the run needs them, then loads the soundfont (~0.45 s of a fresh run, which the synths
otherwise waited for while the themes were written); the decoder (ffmpeg, a process of its own) and the
analysis keep the main thread. In a warm process (the studio, a batch worker) everything is already loaded and
the thread finishes at once.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, wait

log = logging.getLogger(__name__)

# what the run imports after the decoder is loaded, first needed first: the synth thread's loudness meter,
# the composer and the MIDI writer, then the outputs' writers (the editor's files; the MusicXML and the timeline
# figure are the writer process's)
LATER = (
    "scipy.signal",
    "pyloudnorm",
    "mm2music.arrange.compose",
    "mm2music.arrange.score",
    "mm2music.render.synth",
    "mm2music.render.loudness",
    "mm2music.render.tracks",
    "mm2music.project.outputs",
    "mm2music.interchange.deliver",
    "opentimelineio",
)


_one_shot = False


def one_shot() -> None:
    """Say that this process scores once and exits (the command line): once the preload's imports are done,
    everything then alive is moved out of the collector's sight (``gc.freeze``). Each full collection otherwise
    walks every object of torch, music21 and matplotlib again (the collector took ~1.2 s of a fresh run of the
    60 s clip, mostly in its 6 full collections, before this); a long-lived
    process (the studio) does not call this, so nothing it drops later is kept."""
    global _one_shot
    _one_shot = True


def _import_all(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - only a head start: the code that needs the module imports it again and reports
            log.debug("preloading %s failed: %s", name, exc)


def in_background(fn, *args, name: str | None = None) -> Future:
    """``fn(*args)`` on a daemon thread (a run that fails meanwhile, or a Ctrl-C, does not wait for it); its result,
    or what it raised, in the future returned."""
    future: Future = Future()

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - raised by future.result() in the caller
            future.set_exception(exc)

    threading.Thread(target=work, name=name or getattr(fn, "__name__", "background"), daemon=True).start()
    return future


def _load_soundfont(soundfont: str | None) -> None:
    """The soundfont loaded for the process's synths (:func:`~mm2music.render.synth.keep_loaded`: once)."""
    try:
        from mm2music.render.synth import find_soundfont, keep_loaded

        keep_loaded(find_soundfont(soundfont))
    except Exception as exc:  # noqa: BLE001 - only a head start: the renderer loads it again and reports
        log.debug("preloading the soundfont failed: %s", exc)


class Preload:
    """The music decoder (:func:`mm2music.music.checkpoint.load_music_model`) loading, then ``modules`` importing,
    on a background thread; with ``writers``, the writer process starts at once (a process of its own: it imports
    on the core that the run's first second, spent importing on one thread, leaves idle). :meth:`model` waits for
    the decoder (a :class:`~mm2music.errors.CheckpointError` raised while loading surfaces there), :meth:`check`
    raises it as soon as it is known."""

    def __init__(self, checkpoint: str | None, quantize: str, modules: Sequence[str] = LATER, writers: bool = False,
                 soundfont: str | None = None):
        if writers:
            from mm2music.project.writer_process import start

            start()
        self._model = in_background(self._load, checkpoint, quantize, name="preload")
        in_background(self._then, tuple(modules), soundfont, name="preload-later")

    @staticmethod
    def _load(checkpoint: str | None, quantize: str):
        from mm2music.music.checkpoint import load_music_model

        return load_music_model(checkpoint, quantize)

    def _then(self, modules: tuple[str, ...], soundfont: str | None) -> None:
        """Once the decoder is loaded (or failed to): the rest, one after the other."""
        wait([self._model])
        _import_all(modules)
        _load_soundfont(soundfont)
        if _one_shot:
            gc.freeze()

    def check(self) -> None:
        """Raise what loading the decoder raised, if it has already failed; never waits."""
        if self._model.done() and self._model.exception() is not None:
            self._model.result()

    def model(self):
        """(model, tokenizer) once loaded."""
        return self._model.result()
