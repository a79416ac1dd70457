"""Project errors.

Anything that user input, files or configs can trigger raises one of these, never a bare ``assert``.
The message says what failed, the value seen, what was expected and the fix, on one line: the CLI prints
it as ``error: <message>`` and exits 1.
"""


class Mm2MusicError(Exception):
    """Base class of every error a user can cause and fix."""


class MediaError(Mm2MusicError):
    """A video, audio, text or caption input cannot be read."""


class ConfigError(Mm2MusicError):
    """A configuration file, key or value is invalid."""


class CheckpointError(Mm2MusicError):
    """A model checkpoint is missing, corrupt or does not match its tokenizer."""


class ModelWeightsError(Mm2MusicError):
    """Pretrained encoder weights are missing (nothing is downloaded at run time)."""


class RenderError(Mm2MusicError):
    """Rendering audio or muxing video failed."""


class OutputError(Mm2MusicError):
    """The output location cannot be written (exists without --overwrite, not writable, ...)."""


class CorpusError(Mm2MusicError):
    """A training corpus cannot be found or has no usable pieces."""
