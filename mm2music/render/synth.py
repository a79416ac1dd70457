"""Render the soundtrack with FluidSynth and a General MIDI soundfont, in a hall, seated in stereo.

:class:`Synthesizer` runs FluidSynth in this process (pyfluidsynth over the Debian ``fluidsynth`` library) and
renders notes in time order as they arrive, so the pipeline renders each cue while the next one is being
composed (audio up to time t depends only on the notes that start before t, so rendering in pieces gives the
same audio as rendering at the end); silence costs nothing (a track that plays in a few cues of a film is
synthesised only there). Each track carries its seat (pan, CC 10) and its distance (reverb send,
CC 91); FluidSynth's reverb is set to a concert hall (:data:`HALL_REVERB`). Loudness (ITU-R BS.1770-4, the
figure pyloudnorm gives) is measured piece by piece as the audio is rendered; :mod:`~mm2music.render.loudness`
turns it into the delivery gain.

The default soundfont is MuseScore General (the lossless SF2 of Debian's ``musescore-general-soundfont-lossless``
where installed, else the SF3 of ``musescore-general-soundfont``), FluidR3 GM the fallback. The SF2 loads in ~0.5 s,
the SF3 in ~3.4 s (its Vorbis samples are decoded); either way a process loads it once
(:func:`keep_loaded`) and every synth (the mix, each stem, a revise's span) adds that loaded soundfont to itself
in about a millisecond. Audio comes out of FluidSynth as float (``fluid_synth_write_float``): no dither, no
clipping before the delivery gain.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import heapq
import logging
import struct
import threading
import wave
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from mm2music.errors import RenderError

log = logging.getLogger(__name__)

# the General MIDI soundfonts looked for, best first: MuseScore General as lossless SF2 (Debian
# musescore-general-soundfont-lossless: the same instruments, loaded in ~0.5 s where the SF3's Vorbis samples take
# ~3.4 s to decode), as SF3 (musescore-general-soundfont), then FluidR3
SOUNDFONTS = (Path("/usr/share/sounds/sf2/MuseScore_General_Full.sf2"), Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
              Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
DRUM_CHANNEL = 9  # General MIDI: channel 10 plays the drum kit
_MELODIC_CHANNELS = [c for c in range(16) if c != DRUM_CHANNEL]
# FluidSynth's reverb (Freeverb) as a concert hall: a large room, little damping (a long, bright-ish tail), full
# width; how much of each track goes in is its CC 91 (see mm2music.arrange.seating)
HALL_REVERB = {"roomsize": 0.78, "damping": 0.25, "width": 1.0, "level": 0.75}
# a synth whose voices have all ended and whose output stays under this (-140 dBFS, below a 24-bit file's last bit;
# FluidSynth's hall tail falls under it ~2.5 s after the last note) renders zeros without running FluidSynth
SILENCE = 1e-7
_TAIL_CHECK = 256  # samples at the end of a piece that must be under SILENCE
FLUID_BLOCK = 64  # FluidSynth's block (FLUID_BUFSIZE): events take effect at its boundaries
_PIECE = 1 << 14  # samples synthesised at a time while something sounds (~0.4 s)


def default_soundfont() -> Path:
    """The first installed soundfont of :data:`SOUNDFONTS` (the last one's path when none is)."""
    return next((sf for sf in SOUNDFONTS if sf.is_file()), SOUNDFONTS[-1])


# kept for the callers that name the soundfont a run uses when none is given
DEFAULT_SOUNDFONT = default_soundfont()


def find_soundfont(path: str | Path | None = None) -> Path:
    """The soundfont to use: ``path`` if given, else the best installed General MIDI soundfont."""
    sf = Path(path) if path else default_soundfont()
    if not sf.is_file():
        if path:
            raise RenderError(f"soundfont '{sf}' does not exist; pass --soundfont with an .sf2 or .sf3 file")
        raise RenderError(f"no General MIDI soundfont found ({', '.join(map(str, SOUNDFONTS))}); install the Debian package "
                          "musescore-general-soundfont or fluid-soundfont-gm (bash scripts/setup.sh does it) or pass --soundfont PATH")
    return sf


@functools.cache
def _fluid(name: str, result, *args: tuple[str, object]):
    """A FluidSynth function pyfluidsynth does not bind (prototyped like its own bindings)."""
    import fluidsynth

    return fluidsynth.cfunc(name, result, *((arg, kind, 1) for arg, kind in args))


def _write_float():
    """``fluid_synth_write_float``: float samples straight into a NumPy buffer (pyfluidsynth binds only the
    16-bit writer, which dithers, clips at full scale and copies twice)."""
    i, p = ctypes.c_int, ctypes.c_void_p
    return _fluid("fluid_synth_write_float", i, ("synth", p), ("len", i), ("lout", p), ("loff", i), ("lincr", i), ("rout", p),
                  ("roff", i), ("rincr", i))


FLUID_WARN = 2  # FluidSynth's log level of warnings
_LOG_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_fluid_warnings():
    """FluidSynth's warnings (logged to stderr by the library itself) dropped for the block."""
    p = ctypes.c_void_p
    set_log = _fluid("fluid_set_log_function", p, ("level", ctypes.c_int), ("fun", p), ("data", p))
    with _LOG_LOCK:
        previous = set_log(FLUID_WARN, None, None)
        try:
            yield
        finally:
            set_log(FLUID_WARN, previous, None)


_RESIDENT: dict[Path, object] = {}  # soundfont -> a synth that holds it loaded
_RESIDENT_LOCK = threading.Lock()


def keep_loaded(sf: Path):
    """The soundfont ``sf`` loaded once for the rest of the process (FluidSynth's ``fluid_sfont_t``, None if it
    cannot be loaded). Every :class:`Synthesizer` adds this one object to its own synth instead of loading the
    file again: loading an SF3 decodes its samples (~3.4 s), and even from FluidSynth's sample cache, parsing
    its presets costs ~0.15 s a synth (one per stem)."""
    import fluidsynth

    with _RESIDENT_LOCK:
        if sf not in _RESIDENT:
            holder = fluidsynth.Synth(samplerate=44100.0)
            sfid = holder.sfload(str(sf))
            if sfid < 0:
                holder.delete()
                return None
            _RESIDENT[sf] = (holder, fluidsynth.fluid_synth_get_sfont_by_id(holder.synth, sfid))
        return _RESIDENT[sf][1]


CHORUS_SEND = 15  # SoundFont 2.04 generator (and modulator destination) chorusEffectsSend


@functools.cache
def chorus_presets(sf: Path) -> frozenset[tuple[int, int]] | None:
    """The ``(bank, program)`` presets of the soundfont ``sf`` that send to FluidSynth's chorus: a preset zone,
    or a zone of an instrument it plays, sets a chorus send above zero or has a modulator that drives one (MIDI
    CC 93 is never sent here). A synth runs its chorus only once such a preset plays (most orchestral ones do
    not, and the chorus costs ~15% of the synthesis while it runs on silence). None where the file cannot be read
    as a SoundFont: then the chorus always runs."""
    try:
        pdta = _sf2_pdta(sf)
        rec = lambda k, fmt: list(struct.iter_unpack(fmt, pdta[k]))  # noqa: E731
        phdr, pbag, pgen, pmod = rec(b"phdr", "<20sHHHIII"), rec(b"pbag", "<HH"), rec(b"pgen", "<Hh"), rec(b"pmod", "<HHhHH")
        inst, ibag, igen, imod = rec(b"inst", "<20sH"), rec(b"ibag", "<HH"), rec(b"igen", "<Hh"), rec(b"imod", "<HHhHH")

        def sends(bags, gens, mods, first: int, stop: int) -> bool:
            return any(any(o == CHORUS_SEND and a > 0 for o, a in gens[bags[z][0]:bags[z + 1][0]])
                       or any(m[1] == CHORUS_SEND for m in mods[bags[z][1]:bags[z + 1][1]]) for z in range(first, stop))

        voiced = [sends(ibag, igen, imod, inst[j][1], inst[j + 1][1]) for j in range(len(inst) - 1)]
        users = set()
        for h in range(len(phdr) - 1):
            _, program, bank, bag = phdr[h][:4]
            played = [a & 0xFFFF for z in range(bag, phdr[h + 1][3]) for o, a in pgen[pbag[z][0]:pbag[z + 1][0]] if o == 41]
            if sends(pbag, pgen, pmod, bag, phdr[h + 1][3]) or any(voiced[j] for j in played if j < len(voiced)):
                users.add((bank, program))
        return frozenset(users)
    except (OSError, KeyError, IndexError, struct.error, ValueError) as exc:
        log.debug("cannot read the presets of %s (%s): its chorus always runs", sf, exc)
        return None


def _sf2_pdta(sf: Path) -> dict[bytes, bytes]:
    """The sub-chunks of a SoundFont's ``pdta`` list (its presets and instruments; SF3 keeps SF2's layout), found
    by walking the RIFF chunks without reading the samples."""
    with open(sf, "rb") as fh:
        riff, size, form = struct.unpack("<4sI4s", fh.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise ValueError("not a RIFF sfbk file")
        pos = 12
        while pos + 8 <= size + 8:
            fh.seek(pos)
            cid, n = struct.unpack("<4sI", fh.read(8))
            if cid == b"LIST" and fh.read(4) == b"pdta":
                body, out, p = fh.read(n - 4), {}, 0
                while p + 8 <= len(body):
                    sid, m = struct.unpack_from("<4sI", body, p)
                    out[sid] = body[p + 8:p + 8 + m]
                    p += 8 + m + (m & 1)
                return out
            pos += 8 + n + (n & 1)
    raise ValueError("no pdta list")


class Synthesizer:
    """FluidSynth with one soundfont rendering a soundtrack of ``length`` samples: ``add`` notes (seconds),
    ``render_until`` a time, ``finish`` -> the audio, ``loudness`` -> its LUFS.

    Notes may arrive in any order as long as none starts before the audio already rendered. Each General MIDI
    program (or each named track) gets its own channel (drums: channel 10, the GM kit); past 15 programs, channels are shared and
    the program is re-selected before a note that needs another one (sounding notes keep their sound).
    Nothing renders past ``length``; the last ``fade_s`` seconds fade out (notes still ringing at the end);
    every rendered piece is measured as it comes (:class:`LoudnessMeter`). Where no voice sounds and the hall's
    tail has died away, silence is not synthesised (zeros, skipped in whole FluidSynth blocks so that the next note
    starts on the sample it would have). With ``sink``, each rendered piece that is not silent goes to
    ``sink(first sample, audio)`` instead of being kept (a track streamed to disk). ``presets``: the ``(bank,
    program)`` presets it will play (the drum kit is bank 128), when they are known: its chorus then runs only if
    one of them uses it (:func:`chorus_presets`). Use it from one thread at a time.
    """

    def __init__(self, length: int, soundfont: str | Path | None = None, sample_rate: int = 44100, gain: float = 0.6,
                 fade_s: float = 0.0, reverb: dict | None = HALL_REVERB, measure: bool = True,
                 sink: Callable[[int, np.ndarray], None] | None = None, presets: Iterable[tuple[int, int]] | None = None):
        sf = find_soundfont(soundfont)
        try:
            import fluidsynth
        except ImportError as exc:  # pyfluidsynth imports, then looks for libfluidsynth
            raise RenderError(f"FluidSynth is not usable ({str(exc).splitlines()[0]}); install the Debian package fluidsynth (bash scripts/setup.sh does it)") from None
        shared = keep_loaded(sf)
        self.sample_rate = sample_rate
        self.length = length
        self._fade_from = length - min(length, int(fade_s * sample_rate))
        # layered cues with long release tails can sound hundreds of voices at once: 1,024 keeps FluidSynth from
        # stealing voices (the default is 256), so the mix is the sum of its stems
        # the chorus runs from the start unless the presets to be played are known and the soundfont says none of
        # them uses it; one that does and plays all the same switches it on (its modulation then starts later)
        self._chorus_users = chorus_presets(sf)
        self._chorus_on = presets is None or self._chorus_users is None or any(p in self._chorus_users for p in presets)
        self._fs = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate), channels=16,
                                    **{"synth.polyphony": 1024, "synth.chorus.active": int(self._chorus_on)})
        self._shared = shared
        if shared is None:
            self._fs.delete()
            raise RenderError(f"FluidSynth cannot load the soundfont '{sf}'; check that it is a valid .sf2 or .sf3 file")
        self._sfid = _fluid("fluid_synth_add_sfont", ctypes.c_int, ("synth", ctypes.c_void_p), ("sfont", ctypes.c_void_p))(self._fs.synth, shared)
        if reverb:
            self._fs.set_reverb(**reverb)
        self._select(DRUM_CHANNEL, 128, 0)
        self._write = _write_float()
        self._channel_of: dict[int | str, int] = {}  # program (or track) -> channel
        self._selected: dict[int, int] = {}  # channel -> program selected on it
        # heap: (sample, on, seq, channel, program, pitch, velocity); a controller is (sample, 1, seq, channel, cc, -1, value)
        self._events: list[tuple[int, int, int, int, int, int, int]] = []
        self._seq = 0
        self._audio: list[np.ndarray] = []  # float32 (N, 2) pieces, measured
        # measuring costs ~4x what FluidSynth does: only for audio whose loudness is wanted (the mix, not a stem)
        self._meter = LoudnessMeter(sample_rate) if measure else None
        self._voices = _fluid("fluid_synth_get_active_voice_count", ctypes.c_int, ("synth", ctypes.c_void_p))
        self._sink = sink
        self._quiet = True  # no voice sounds and the effects' tails have died away: silence needs no synthesis
        self.rendered = 0  # samples rendered so far
        self.synthesised = 0  # samples FluidSynth actually computed (the rest was silence, skipped)

    def _channel(self, program: int, is_drum: bool, track: str | None) -> int:
        if is_drum:
            return DRUM_CHANNEL
        owner = program if track is None else track
        if owner not in self._channel_of:
            self._channel_of[owner] = _MELODIC_CHANNELS[len(self._channel_of) % len(_MELODIC_CHANNELS)]
        return self._channel_of[owner]

    def add(self, notes: Iterable[tuple[float, float, int, int]], program: int = 0, is_drum: bool = False,
            track: str | None = None, expression: int | None = None, pan: int | None = None, reverb: int | None = None,
            controls: Iterable[tuple[float, int, int]] = ()) -> None:
        """Schedule ``(start s, end s, pitch, velocity)`` notes on ``program`` (or the drum kit). With ``track``,
        each track gets its own channel even where two share a program (a note-off of one never cuts the
        other's note), so the mix equals the sum of the tracks rendered apart (the stems). ``expression``,
        ``pan``, ``reverb``: MIDI CC 11, 10 and 91 set on the channel as the first of these notes starts;
        ``controls``: ``(time s, controller, value)`` changes on the channel (phrase swells, vibrato, the sustain
        pedal)."""
        channel = self._channel(program, is_drum, track)
        notes = list(notes)
        if notes:
            on = max(round(min(n[0] for n in notes) * self.sample_rate), self.rendered)
            for cc, value in ((11, expression), (10, pan), (91, reverb)):
                if value is not None:
                    heapq.heappush(self._events, (on, 1, self._seq, channel, cc, -1, int(value)))
                    self._seq += 1
        for when, number, value in controls:
            heapq.heappush(self._events, (max(round(when * self.sample_rate), self.rendered), 1, self._seq, channel, int(number), -1, int(value)))
            self._seq += 1
        for start, end, pitch, velocity in notes:
            on, off = round(start * self.sample_rate), round(end * self.sample_rate)
            if on < self.rendered:
                raise RenderError(f"a note at {start:.3f} s arrived after the audio was rendered up to {self.rendered / self.sample_rate:.3f} s")
            # at one sample, note-offs (0) sort before note-ons (1): a repeated pitch is struck again
            heapq.heappush(self._events, (on, 1, self._seq, channel, -1 if is_drum else program, pitch, velocity))
            heapq.heappush(self._events, (max(off, on + 1), 0, self._seq, channel, -1, pitch, 0))
            self._seq += 1

    def _select(self, channel: int, bank: int, program: int) -> None:
        if not self._chorus_on and (bank, program) in self._chorus_users:
            _fluid("fluid_synth_chorus_on", ctypes.c_int, ("synth", ctypes.c_void_p), ("fx_group", ctypes.c_int),
                   ("on", ctypes.c_int))(self._fs.synth, -1, 1)
            self._chorus_on = True
        self._fs.program_select(channel, self._sfid, bank, program)

    def _pull(self, n: int) -> np.ndarray:
        """The next ``n`` samples from FluidSynth, float32 (n, 2); notes whether the synth has gone quiet."""
        piece = np.empty((n, 2), np.float32)
        self._write(self._fs.synth, n, piece.ctypes.data, 0, 2, piece.ctypes.data, 1, 2)
        self.synthesised += n
        # quiet once no voice sounds and the last of this piece is under the silence floor
        self._quiet = not self._voices(self._fs.synth) and float(np.abs(piece[-_TAIL_CHECK:]).max(initial=0.0)) < SILENCE
        return piece

    def _render_to(self, sample: int) -> None:
        sample = min(sample, self.length)
        pieces: list[tuple[int, np.ndarray]] = []  # (first sample, float32 (n, 2)) of this call
        while self.rendered < sample:
            nxt = self._events[0][0] if self._events else sample
            if nxt > self.rendered:
                n = min(nxt, sample) - self.rendered
                if self._quiet and not self._voices(self._fs.synth):
                    # silence, not synthesised: FluidSynth starts a note at the next of its 64-sample blocks, so
                    # skipping whole blocks only keeps every note where a synth that ran through would start it
                    skip = n - n % FLUID_BLOCK
                    if skip:
                        if self._sink is None or self._meter is not None:  # kept (or measured) as zeros
                            pieces.append((self.rendered, np.zeros((skip, 2), np.float32)))
                        self.rendered += skip
                        continue
                else:
                    n = min(n, _PIECE)  # small enough to notice when the tail has died away
                pieces.append((self.rendered, self._pull(n)))
                self.rendered += n
                continue
            _, on, _, channel, program, pitch, velocity = heapq.heappop(self._events)
            self._quiet = False  # an event may start a voice or move a controller of a sounding one
            if pitch < 0:  # a controller: its number rides in the program slot, its value in the velocity's
                self._fs.cc(channel, program, velocity)
                continue
            if not on:
                self._fs.noteoff(channel, pitch)
                continue
            if program >= 0 and self._selected.get(channel) != program:
                self._select(channel, 0, program)
                self._selected[channel] = program
            self._fs.noteon(channel, pitch, velocity)
        for at, audio in pieces:  # fade what falls in the fade-out, measure, keep (or hand on)
            end = at + len(audio)
            if end > self._fade_from:
                ramp = np.linspace(1.0, 0.0, self.length - self._fade_from, dtype=np.float32)
                lo = max(at, self._fade_from)
                audio[lo - at:] *= ramp[lo - self._fade_from : end - self._fade_from, None]
            if self._meter is not None:
                self._meter.add(audio)
            if self._sink is None:
                self._audio.append(audio)
            elif audio.any():  # silence is not handed on: the sink's reader fills it in
                self._sink(at, audio)

    def render_until(self, seconds: float) -> None:
        """Render the audio up to ``seconds`` (call it once every note starting before then was added)."""
        self._render_to(round(seconds * self.sample_rate))

    def finish(self) -> np.ndarray:
        """Render the rest and return the whole audio (all of it not yet :meth:`take`-n), float32 (N, 2); notes
        past the end are cut."""
        self._render_to(self.length)
        return self.take()

    def take(self) -> np.ndarray:
        """The audio rendered since the last ``take`` (float32 (N, 2)), which the synth then no longer holds: a
        long render streamed to disk keeps one piece in memory, not the whole film."""
        out = np.concatenate(self._audio) if self._audio else np.zeros((0, 2), np.float32)
        self._audio = []
        return out

    def loudness(self) -> float:
        """Integrated loudness (LUFS) of the audio rendered so far (a synth made with ``measure=False``: NaN)."""
        return self._meter.integrated() if self._meter is not None else float("nan")

    def close(self) -> None:
        # the soundfont is the process's (keep_loaded): taken out before FluidSynth deletes what its synth holds;
        # taking it out leaves every channel without a preset, which FluidSynth warns about on stderr, channel by channel
        remove = _fluid("fluid_synth_remove_sfont", ctypes.c_int, ("synth", ctypes.c_void_p), ("sfont", ctypes.c_void_p))
        with _quiet_fluid_warnings():
            remove(self._fs.synth, self._shared)
        self._fs.delete()


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        n, ch, width = w.getnframes(), w.getnchannels(), w.getsampwidth()
        data = np.frombuffer(w.readframes(n), dtype="<i2" if width == 2 else "<i4")
    audio = data.reshape(-1, ch).astype(np.float32) / (32768.0 if width == 2 else 2147483648.0)
    return audio if ch == 2 else np.repeat(audio, 2, axis=1)


def pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as the 16-bit samples ``soundtrack.wav`` holds (clipped, scaled, truncated)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")


def write_wav(path: Path, audio, sample_rate: int, block: int = 1 << 20, bext: dict | None = None) -> None:
    """16-bit PCM WAV of stereo float audio in [-1, 1]: an ``(N, 2)`` array converted ``block`` samples at a time,
    or an iterable of ``(n, 2)`` blocks written as they come (a film's whole-length clipped and int16 copies would
    cost more memory than the audio itself). ``bext``: the keyword arguments of a Broadcast WAV ``bext`` chunk
    (:class:`~mm2music.interchange.bwf.BroadcastWavWriter`: ``time_reference``, ``description``, ``reference``),
    written with the file rather than put in afterwards (which copies it)."""
    pieces = (audio[a:a + block] for a in range(0, len(audio), block)) if isinstance(audio, np.ndarray) else audio
    pcm = (pcm16(piece) for piece in pieces)
    if bext is not None:
        from mm2music.interchange.bwf import BroadcastWavWriter

        with BroadcastWavWriter(path, sample_rate, 2, "PCM_16", **bext) as out:
            for piece in pcm:
                out.write(piece)
        return
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for piece in pcm:
            w.writeframes(piece.tobytes())


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4) of audio that arrives in pieces, the same figure as
    ``pyloudnorm.Meter(rate).integrated_loudness`` on the whole (pyloudnorm's K-weighting filters, run with
    carried state; 400 ms gating blocks every 100 ms built from 100 ms sums of squares). Lets the synth thread
    measure each cue as it renders it, so nothing is left to measure at the end."""

    def __init__(self, sample_rate: int, channels: int = 2):
        import pyloudnorm
        import scipy.signal

        stages = [  # BS.1770's K-weighting: pyloudnorm's "K-weighting" filter class
            pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
            pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
        ]
        self._sos = np.array([np.concatenate([f.b, f.a]) / f.a[0] for f in stages])
        self._gain = float(np.prod([f.passband_gain for f in stages]))
        self._zi = np.zeros((len(stages), 2, channels))
        self._sosfilt = scipy.signal.sosfilt
        self.sample_rate = sample_rate
        self.hop = round(0.1 * sample_rate)
        self._hops: list[np.ndarray] = []  # (channels,) K-weighted sum of squares of each full 100 ms hop
        self._partial = np.zeros(channels)
        self._in_partial = 0
        self.samples = 0

    def add(self, audio: np.ndarray) -> None:
        """Measure the next ``(N, channels)`` samples."""
        if len(audio):
            self.add_squares(self.weighted(audio))

    def weighted(self, audio: np.ndarray) -> np.ndarray:
        """The K-weighted squares of the next ``(N, channels)`` samples (the filters' state carried on)."""
        y, self._zi = self._sosfilt(self._sos, audio.astype(np.float64), axis=0, zi=self._zi)
        return (y * self._gain) ** 2

    def add_squares(self, sq: np.ndarray) -> None:
        """Count K-weighted squares (:meth:`weighted`, possibly of another meter: a stretch of the audio measured
        with the filters run once over the whole)."""
        if not len(sq):
            return
        self.samples += len(sq)
        take = min(len(sq), self.hop - self._in_partial)
        self._partial += sq[:take].sum(axis=0)
        self._in_partial += take
        if self._in_partial < self.hop:
            return
        self._hops.append(self._partial)
        rest = sq[take:]
        full = len(rest) // self.hop * self.hop
        self._hops.extend(rest[:full].reshape(-1, self.hop, sq.shape[1]).sum(axis=1))
        self._partial = rest[full:].sum(axis=0)
        self._in_partial = len(rest) - full

    def integrated(self) -> float:
        """LUFS of everything added so far; -inf for silence."""
        hops = np.array(self._hops + [self._partial]).reshape(-1, len(self._partial))
        n_blocks = max(1, int(np.round((self.samples / self.sample_rate - 0.4) / 0.1)) + 1)
        hops = np.concatenate([hops, np.zeros((n_blocks + 3 - len(hops), hops.shape[1]))]) if len(hops) < n_blocks + 3 else hops
        z = (hops[0:n_blocks] + hops[1:n_blocks + 1] + hops[2:n_blocks + 2] + hops[3:n_blocks + 3]).sum(axis=1) / (4 * self.hop)
        with np.errstate(divide="ignore"):
            blocks = -0.691 + 10 * np.log10(z)
            gated = blocks >= -70.0  # absolute gate
            if not gated.any():
                return float("-inf")
            relative = -0.691 + 10 * np.log10(z[gated].mean()) - 10.0
            keep = gated & (blocks > relative)
            return float(-0.691 + 10 * np.log10(z[keep].mean())) if keep.any() else float("-inf")


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness, LUFS (ITU-R BS.1770-4); -inf for silence."""
    meter = LoudnessMeter(sample_rate, audio.shape[1])
    meter.add(audio)
    return meter.integrated()
