"""mm2music: score text and video with original music.

Data flows one way: media -> encoders -> emotion -> concept graph -> plan -> music model
-> arrangement -> render -> mux. ``mm2music.pipeline`` is the only module that imports every stage.
"""

__version__ = "0.1.0"
