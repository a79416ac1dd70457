import pytest

from mm2music.errors import MediaError
from mm2music.media.text import clean_caption, read_captions, read_text_file, text_segment
from tests.conftest import REPO

SAMPLES = REPO / "data" / "samples"


def test_srt_and_vtt_samples_parse_to_the_same_segments():
    srt_segments = read_captions(SAMPLES / "story.srt")
    vtt_segments = read_captions(SAMPLES / "story.vtt")
    assert srt_segments == vtt_segments
    assert [(s.start, s.end) for s in srt_segments] == [(0.5, 4.0), (5.0, 9.5), (10.0, 14.0), (15.0, 20.0)]
    assert srt_segments[1].text == "Footsteps in the alley. Someone is following her."


def test_caption_markup_is_stripped(tmp_path):
    path = tmp_path / "m.vtt"
    path.write_text("WEBVTT\n\n00:01.250 --> 00:02.750\n<v Anna><i>Run!</i>  {\\an8}Now\n", encoding="utf-8")
    (segment,) = read_captions(path)
    assert (segment.text, segment.start, segment.end) == ("Anna: Run! Now", 1.25, 2.75)  # the voice is its speaker label
    assert clean_caption("<b>a</b>\n b") == "a b"
    assert clean_caption("<v.loud fred smith>Hi</v>\n<v Tomas>Hey") == "Fred smith: Hi - Tomas: Hey"


def test_utf8_text_file_with_bom(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffCafé au lait, été".encode("utf-8"))
    assert read_text_file(path) == "Café au lait, été"


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("bad.srt", "1\n00:00:01,000 -> nonsense\nhello\n", "not valid SRT"),
        ("bad.vtt", "WEBVTT\n\n00:00:01.000 --> xx\nhello\n", "not valid WebVTT"),
        ("novtt.vtt", "just some words\n", "not valid WebVTT"),
        ("empty.srt", "1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n", "no timed caption with text"),
        ("subs.txt", "hello", "unknown extension"),
    ],
)
def test_malformed_captions(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MediaError, match=match):
        read_captions(path)


def test_undecodable_text_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("déjà vu".encode("latin-1"))
    with pytest.raises(MediaError, match=r"not valid UTF-8 \(byte 0xe9 at offset 1\)"):
        read_text_file(path)


def test_empty_text():
    with pytest.raises(MediaError, match="empty"):
        text_segment("   \n\t ")
