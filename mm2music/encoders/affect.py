"""The built-in visual affect encoder: colour, light and motion -> valence and arousal, with no model weights.

Per sampled frame (cheap: a strided view of the ~144 px frame, a few numpy reductions):

* ``brightness``: mean luma (Rec. 601 Y', 0-1).
* ``saturation``: mean chroma, max(R,G,B) - min(R,G,B) (0-1); chroma is what Munsell calls saturation, the
  quantity Valdez & Mehrabian varied.
* ``warmth``: colour temperature proxy, mean(R - B) (-1 cool/blue .. +1 warm/red).
* ``hue_x``, ``hue_y``: chroma-weighted mean hue as a vector (its length says how dominant one hue is).
* ``contrast``: RMS contrast, the standard deviation of luma (Peli 1990).
* ``colourfulness``: Hasler & Süsstrunk (2003) metric M on 0-255 RGB, divided by 100 (~0 grey, ~1 very colourful).
* ``motion``: mean absolute luma difference to the previous sampled frame on a 32-px-wide thumbnail (0-1).

Mapping to the circumplex (valence = pleasure, arousal), all terms documented in :func:`affect_va`:

* Valdez, P. & Mehrabian, A. (1994). Effects of color on emotions. J. Exp. Psychol. General 123(4), 394-409:
  pleasure = .69 brightness + .22 saturation; arousal = -.31 brightness + .60 saturation (standardised weights).
* Wilson, G. D. (1966). Arousal properties of red versus green. Perceptual and Motor Skills 23, 947-949:
  warm (red) colours are more arousing than cool ones.
* Wang, H. L. & Cheong, L.-F. (2006). Affective understanding in film. IEEE TCSVT 16(6), 689-704: low-key
  lighting (dark, high contrast) marks tense or sombre scenes; colour energy marks lively ones.
* Hasler, D. & Süsstrunk, S. (2003). Measuring colourfulness in natural images. Proc. SPIE 5007, 87-95.
* Hanjalic, A. & Xu, L.-Q. (2005). Affective video content representation and modeling. IEEE Trans.
  Multimedia 7(1), 143-154: arousal rises with motion activity and with cutting rate (shorter shots).
"""

from __future__ import annotations

import math

import numpy as np

FEATURES = ("brightness", "saturation", "warmth", "hue_x", "hue_y", "contrast", "colourfulness", "motion")
F = {name: i for i, name in enumerate(FEATURES)}

# Typical values of the features over film and TV frames, used to standardise them (the published weights
# are standardised regression coefficients). These reference points are our assumption, not the papers'.
BRIGHTNESS_REF = (0.40, 0.15)  # mean, spread
SATURATION_REF = (0.22, 0.10)
CONTRAST_REF = (0.20, 0.07)
MOTION_REF = (0.06, 0.05)  # mean |delta luma| between frames 0.5 s apart
CUTS_PER_MIN_REF = (12.0, 8.0)  # a drama cuts ~6/min, an action sequence ~25/min


def _thumb_luma(frames: np.ndarray, width: int = 32) -> np.ndarray:
    """(M, H, W, 3) uint8 -> (M, h, width) float32 luma of a box-downscaled thumbnail, 0-1."""
    m, h, w, _ = frames.shape
    step = max(1, w // width)
    hh, ww = h // step * step, w // step * step
    small = frames[:, :hh, :ww].reshape(m, hh // step, step, ww // step, step, 3).mean(axis=(2, 4))
    return (small @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32) / 255.0


def frame_features(frames: np.ndarray, previous_thumb: np.ndarray | None = None, stride: int = 2) -> tuple[np.ndarray, np.ndarray | None]:
    """Affect features of each frame (see the module docstring).

    ``frames`` is (M, H, W, 3) uint8 RGB; ``previous_thumb`` the last thumbnail of the previous call (for the
    motion of the first frame; motion is 0 without one). Returns (M, len(FEATURES)) float32 and the last
    thumbnail. Pixels are read with ``stride`` (every 2nd row and column by default).
    """
    m = len(frames)
    out = np.zeros((m, len(FEATURES)), np.float32)
    if m == 0:
        return out, previous_thumb
    rgb = frames[:, ::stride, ::stride].astype(np.float32) / 255.0  # (M, h, w, 3)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = rgb.max(-1), rgb.min(-1)
    chroma = mx - mn
    out[:, F["brightness"]] = luma.mean(axis=(1, 2))
    out[:, F["saturation"]] = chroma.mean(axis=(1, 2))
    out[:, F["warmth"]] = (r - b).mean(axis=(1, 2))
    out[:, F["contrast"]] = luma.std(axis=(1, 2))
    # hue angle from the opponent axes (the hexagonal approximation of HSV hue), weighted by chroma
    alpha = r - 0.5 * (g + b)
    beta = (math.sqrt(3) / 2) * (g - b)
    total = chroma.sum(axis=(1, 2)) + 1e-6
    norm = np.sqrt(alpha**2 + beta**2) + 1e-6
    out[:, F["hue_x"]] = (chroma * alpha / norm).sum(axis=(1, 2)) / total
    out[:, F["hue_y"]] = (chroma * beta / norm).sum(axis=(1, 2)) / total
    # Hasler & Süsstrunk (2003): M = sigma_rgyb + 0.3 mu_rgyb on 0-255 values
    rg = (r - g) * 255.0
    yb = (0.5 * (r + g) - b) * 255.0
    sigma = np.sqrt(rg.var(axis=(1, 2)) + yb.var(axis=(1, 2)))
    mu = np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2)
    out[:, F["colourfulness"]] = (sigma + 0.3 * mu) / 100.0
    thumbs = _thumb_luma(frames)
    prev = previous_thumb if previous_thumb is not None and previous_thumb.shape == thumbs.shape[1:] else None
    for i in range(m):
        if prev is not None:
            out[i, F["motion"]] = float(np.abs(thumbs[i] - prev).mean())
        prev = thumbs[i]
    return out, thumbs[-1]


class AffectEncoder:
    """Stateful per-stream feature extractor: frames must arrive in time order (motion needs the last frame)."""

    name = "affect"
    dim = len(FEATURES)

    def __init__(self) -> None:
        self._last_thumb: np.ndarray | None = None

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        feats, self._last_thumb = frame_features(frames, self._last_thumb)
        return feats


def _z(value: float, ref: tuple[float, float]) -> float:
    return (value - ref[0]) / ref[1]


def affect_va(features: np.ndarray, cuts_per_min: float | None = None) -> tuple[float, float]:
    """(valence, arousal) in [-1, 1] from mean frame features (``FEATURES`` order) and the local cutting rate.

    valence = tanh(0.5 * (.69 zB + .22 zS - .15 zC + .10 zColourful))
        Valdez & Mehrabian's pleasure weights on standardised brightness B and saturation S, minus a little
        for low-key contrast C and plus a little for colourfulness (Wang & Cheong 2006).
    arousal = tanh(0.5 * (0.4 * colour + 0.35 * zMotion + 0.25 * zCuts))
        colour = -.31 zB + .60 zS + .15 zWarmth + .15 zC  (Valdez & Mehrabian; Wilson 1966; Wang & Cheong)
        motion and cutting rate as in Hanjalic & Xu (2005); without a cutting rate its share goes to motion.
    The 0.5 inside tanh makes two standard deviations of evidence read as ~0.76.
    """
    f = np.asarray(features, np.float64).reshape(-1, len(FEATURES)).mean(axis=0)
    zb = _z(f[F["brightness"]], BRIGHTNESS_REF)
    zs = _z(f[F["saturation"]], SATURATION_REF)
    zc = _z(f[F["contrast"]], CONTRAST_REF)
    zcol = _z(f[F["colourfulness"]], (0.35, 0.2))
    zw = f[F["warmth"]] / 0.1
    zm = float(np.clip(_z(f[F["motion"]], MOTION_REF), -3, 6))
    valence = 0.69 * zb + 0.22 * zs - 0.15 * zc + 0.10 * zcol
    colour = -0.31 * zb + 0.60 * zs + 0.15 * zw + 0.15 * zc
    if cuts_per_min is None:
        pace = 0.6 * zm
    else:
        pace = 0.35 * zm + 0.25 * float(np.clip(_z(cuts_per_min, CUTS_PER_MIN_REF), -2, 4))
    arousal = 0.4 * colour + pace
    return float(np.tanh(0.5 * valence)), float(np.tanh(0.5 * arousal))
