"""Arrangement: timing (bars on cuts, hit points, tempo map) and orchestration onto General MIDI."""
