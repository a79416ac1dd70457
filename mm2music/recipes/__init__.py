"""The commands besides scoring, as the installed CLI runs them (``mm2music train``, ``mm2music prepare-corpus``);
``pipelines/*.py`` run the same from the checkout."""
