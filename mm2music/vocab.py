"""The names and limits a user chooses from, defined once.

argparse ``choices``, the settings check (:mod:`mm2music.checks`), revise, the planner, the studio's forms
(``GET /api/vocabulary``) and the cue types read them from here, so a name offered in one place is accepted
in all of them. Nothing here imports the rest of mm2music: it sits below every stage.
"""

from __future__ import annotations

# --- analysis --------------------------------------------------------------------------------------------
# "mm2music" (classic + HSV propose, TransNetV2 settles), "classic" (hand-made alone), "transnetv2" (learned,
# every frame), "pyscenedetect" (ContentDetector baseline): mm2music/media/cuts/
DETECTORS = ("mm2music", "classic", "transnetv2", "pyscenedetect")
ENCODERS = ("auto", "clip", "affect")  # frame encoder: CLIP when its weights are found, or the built-in features

# --- music -----------------------------------------------------------------------------------------------
METERS = ("4/4", "3/4", "6/8", "2/4")
FAMILIES = ("piano", "strings", "woodwinds", "brass", "choir", "organ", "guitar", "harp", "mallets", "synth", "percussion")
DYNAMICS = ("pp", "p", "mp", "mf", "f", "ff")
DENSITIES = ("very_sparse", "sparse", "medium", "dense", "very_dense")  # notes per quarter, all tracks
REGISTERS = ("low", "middle", "high", "very_high")  # mean pitch of the pitched notes
PLAN_TEMPO = (48.0, 176.0)  # BPM the planner chooses; outside it bars are added or removed
TEMPO_FLAG = (PLAN_TEMPO[0] / 2, PLAN_TEMPO[1] * 1.5)  # --tempo asks the planner for 24-264 BPM
CUE_TEMPO = (20.0, 320.0)  # BPM a cue may have at all (a revise sets one within it)
QUANTIZE = ("int8", "none")  # the decoder's linear layers when sampling

# --- output ----------------------------------------------------------------------------------------------
MIXES = ("keep", "replace")  # the video's own audio: kept with the music ducked under speech, or replaced
STEM_FORMATS = ("default", "48k24", "none")  # mm2music/render/stems.py


def as_json() -> dict:
    """What the studio's page offers in its forms."""
    return {"detectors": list(DETECTORS), "meters": list(METERS), "families": list(FAMILIES), "dynamics": list(DYNAMICS),
            "densities": list(DENSITIES), "registers": list(REGISTERS), "tempo": list(CUE_TEMPO), "plan_tempo": list(TEMPO_FLAG),
            "mixes": list(MIXES), "stem_formats": list(STEM_FORMATS)}
