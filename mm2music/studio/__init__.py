"""The studio: a local web page to score a film, see its plan on a timeline, play the result and edit it.

``app.py`` is a FastAPI application over the same library calls as the CLI (``pipeline.run``, the ``revise``
functions, the refine session); ``jobs.py`` runs them in the background; ``static/`` is the page (plain HTML and
JavaScript, no build step, shipped as package data). ``mm2music studio`` serves it (``recipes/studio.py``).
"""
