"""What goes back to a film-maker's other tools: timecode, Broadcast WAV and the editor's timeline."""
