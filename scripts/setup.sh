#!/usr/bin/env bash
# Install everything mm2music needs; idempotent and fast when all is already in place.
#   - Debian packages: ffmpeg, fluidsynth (the library pyfluidsynth binds), the GM soundfonts (MuseScore General,
#     the default, as SF2 and SF3, and FluidR3, the fallback), espeak-ng (speech for the dialogue tests and bench/mix.py),
#     chromium (tests).
#   - .venv with the package and its dev extras (pip install -e .[dev]).
# Used by both README quick-start commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v fluidsynth >/dev/null 2>&1 || need_apt+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need_apt+=(fluid-soundfont-gm)
[ -f /usr/share/sounds/sf3/MuseScore_General.sf3 ] || need_apt+=(musescore-general-soundfont)  # SF3, ~76 MB download
# the same soundfont as a lossless SF2 (~330 MB download, 478 MB): loads in ~0.5 s instead of the SF3's ~3.4 s decode
[ -f /usr/share/sounds/sf2/MuseScore_General_Full.sf2 ] || need_apt+=(musescore-general-soundfont-lossless)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the studio's browser test (Playwright drives it)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    aptlog=$(mktemp)
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"; } >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        echo "setup: apt-get install failed (${need_apt[*]}); see above" >&2
        exit 1
    fi
    rm -f "$aptlog"
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PY" -m venv .venv
fi

# Reinstall only when the project's dependency declaration changed.
stamp=.venv/.mm2music-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing mm2music and its dependencies into .venv (first time: a few minutes, ~6 GB)" >&2
    log=.venv/install.log
    if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[dev]'; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup: pip install failed; the full log is $log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
