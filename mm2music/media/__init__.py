"""Media front end: video frames (decord), scene cuts, the source audio, text and captions."""
