"""Audio and video out: FluidSynth rendering, loudness, ducking under the source audio, ffmpeg mux."""
