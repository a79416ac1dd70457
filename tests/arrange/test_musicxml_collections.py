"""The MusicXML export's setting of the garbage collector: changed while exports run, restored after the last."""

from __future__ import annotations

import gc
import threading

from mm2music.arrange.musicxml import _rare_full_collections


def test_the_collector_setting_is_restored_after_overlapping_exports():
    before = gc.get_threshold()
    first_in, second_done = threading.Event(), threading.Event()
    seen = []

    def first():
        with _rare_full_collections():
            first_in.set()
            second_done.wait(10)
            seen.append(gc.get_threshold())  # the other export ended: still raised for this one

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(10)
    with _rare_full_collections():
        assert gc.get_threshold() == (before[0], before[1], before[2] * 100)
    second_done.set()
    t.join(10)
    assert seen == [(before[0], before[1], before[2] * 100)]
    assert gc.get_threshold() == before
