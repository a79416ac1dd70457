import numpy as np
import pytest

from mm2music.config import MediaConfig
from mm2music.errors import MediaError
from mm2music.media.sampling import FrameSampler
from mm2music.media.video import VideoSource, target_size, valid_timestamps
from tests.conftest import ffmpeg


def test_probe_and_decode_every_frame_once(small_video):
    source = VideoSource(small_video, MediaConfig(frame_short_side=64, chunk_frames=7))
    info = source.info
    assert (info.width, info.height, info.fps, info.codec) == (160, 120, 25.0, "h264")
    assert info.has_audio and info.timestamps == "container"
    chunks = list(source.chunks())
    indices = np.concatenate([c.indices for c in chunks])
    times = np.concatenate([c.times for c in chunks])
    assert indices.tolist() == list(range(50))
    assert max(len(c) for c in chunks) == 7  # bounded batches
    assert chunks[0].frames.shape[1:] == (64, 86, 3)  # short side 64, aspect kept, even width
    np.testing.assert_allclose(times, np.arange(50) / 25, atol=1e-3)
    assert info.duration == pytest.approx(2.0, abs=1e-3)


def test_avi_without_timestamps_falls_back_to_index(silent_avi):
    source = VideoSource(silent_avi, MediaConfig(frame_short_side=64))
    assert source.info.timestamps == "index"
    assert not source.info.has_audio
    times = np.concatenate([c.times for c in source.chunks()])
    np.testing.assert_allclose(times, np.arange(len(times)) / 25)


def test_variable_frame_rate_uses_container_times(media_dir):
    """20 red frames at 10 fps, then blue at 30 fps: index / average fps would misplace the change at 2.0 s."""
    vfr = media_dir / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=96x64:r=30:d=2.67",
           "-vf", "drawbox=c=blue:t=fill:enable='gte(n,20)',setpts='if(lt(N,20),N*0.1,2+(N-20)/30)/TB'",
           "-fps_mode", "passthrough", "-video_track_timescale", "90000", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(vfr))
    source = VideoSource(vfr, MediaConfig(frame_short_side=64))
    chunks = list(source.chunks())
    frames = np.concatenate([c.frames for c in chunks])
    times = np.concatenate([c.times for c in chunks])
    assert source.info.timestamps == "container"
    first_blue = int(np.argmax(frames[:, :, :, 2].mean(axis=(1, 2)) > 128))
    assert first_blue == 20
    assert times[first_blue] == pytest.approx(2.0, abs=1e-3)
    assert first_blue / source.info.fps == pytest.approx(1.0, abs=0.05)  # what index / fps would have said


def test_the_pipe_gives_decords_pictures_and_times(media_dir):
    """The decode pass reads an ffmpeg pipe (decord's own decoding runs ahead without bound): the same pictures
    as decord's, a rotated phone clip included (both apply the rotation), at the times decord indexed."""
    plain, rotated = media_dir / "plain.mp4", media_dir / "rotated.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=25:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(plain))
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated))
    for path in (plain, rotated):
        source = VideoSource(path, MediaConfig(frame_short_side=64, chunk_frames=10))
        chunks = list(source.chunks())
        frames = np.concatenate([c.frames for c in chunks])
        np.testing.assert_array_equal(np.concatenate([c.times for c in chunks]), source.times)
        for i in (0, 13, len(frames) - 1):
            theirs = source.reader[i].asnumpy().astype(np.int16)
            # the scalers differ by ~1, the pipe's colour at half the resolution (4:2:0) by ~5 on testsrc's saturated
            # bars (less on footage); another picture by 50+
            assert np.abs(theirs - frames[i]).mean() < 8.0


def test_valid_timestamps_rejects_garbage():
    assert valid_timestamps(np.arange(10) / 25, 25, 0.4)
    assert not valid_timestamps(np.full(10, -3.8e17), 25, 0.4)
    assert not valid_timestamps(np.array([0.0, 0.08, 0.04]), 25, 0.12)
    assert not valid_timestamps(np.array([np.nan, 0.04]), 25, 0.08)
    assert not valid_timestamps(np.zeros(5), 25, 0.2)


def test_target_size_portrait_and_4k():
    assert target_size(3840, 2160, 144) == (256, 144)
    assert target_size(1080, 1920, 144) == (144, 256)
    assert target_size(100, 80, 144) == (100, 80)  # never upscales


def test_frame_sampler_picks_grid_frames(small_video):
    got = []
    sampler = FrameSampler(2.0, sink=lambda frames, times: got.append((frames.shape, times.tolist())))
    for chunk in VideoSource(small_video, MediaConfig(frame_short_side=64, chunk_frames=8)).chunks():
        sampler.update(chunk)
    assert np.allclose(sampler.times, [0.0, 0.52, 1.0, 1.52], atol=1e-6)  # first frame at or after each k / 2 s
    assert sum(shape[0] for shape, _ in got) == 4


def test_truncated_faststart_video_decodes_what_it_can(media_dir):
    full = media_dir / "long_fs.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(full))
    cut = media_dir / "cut_fs.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    source = VideoSource(cut, MediaConfig(frame_short_side=64))
    n = sum(len(c) for c in source.chunks())
    assert 0 < n < 100
    assert source.info.n_frames == n
    assert source.warnings and "decoded only" in source.warnings[0]


def test_audio_envelope(small_video):
    from mm2music.media.audio import read_audio_envelope

    env = read_audio_envelope(small_video, 16000, 0.05)
    assert env is not None
    assert env.duration == pytest.approx(2.0, abs=0.05)
    assert len(env.rms_db) == pytest.approx(40, abs=1)
    # a 440 Hz tone sits inside the speech band: both envelopes agree where the tone plays
    mid = slice(5, 35)
    np.testing.assert_allclose(env.speech_db[mid], env.rms_db[mid], atol=1.0)
    assert env.rms_db[mid].mean() > -30


def test_no_audio_stream_gives_none(silent_avi):
    from mm2music.media.audio import read_audio_envelope

    assert read_audio_envelope(silent_avi) is None


@pytest.mark.parametrize(
    "name, size, rate, codec_args, codec",
    [
        ("h264.mov", "320x180", 30, ["-c:v", "libx264", "-preset", "ultrafast"], "h264"),
        ("hevc.mkv", "320x180", 25, ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none"], "hevc"),
        ("vp9.webm", "320x180", 24, ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"], "vp9"),
        ("portrait60.mp4", "360x640", 60, ["-c:v", "libx264", "-preset", "ultrafast"], "h264"),
        ("uhd.mp4", "3840x2160", 30, ["-c:v", "libx264", "-preset", "ultrafast"], "h264"),
    ],
)
def test_formats_users_bring(media_dir, name, size, rate, codec_args, codec):
    """MOV, MKV (HEVC), WebM (VP9), portrait 60 fps and 4K all decode, downscaled, with real frame times."""
    path = media_dir / name
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d=0.5", *codec_args, "-pix_fmt", "yuv420p", str(path))
    source = VideoSource(path, MediaConfig(frame_short_side=72))
    chunks = list(source.chunks())
    w, h = (int(x) for x in size.split("x"))
    assert (source.info.width, source.info.height, source.info.codec) == (w, h, codec)
    assert min(chunks[0].frames.shape[1:3]) in (72, 74, 76)  # short side downscaled (decord dislikes a few sizes)
    assert (chunks[0].frames.shape[1] > chunks[0].frames.shape[2]) == (h > w)
    times = np.concatenate([c.times for c in chunks])
    assert abs(len(times) - rate * 0.5) <= 1
    np.testing.assert_allclose(np.diff(times), 1 / rate, atol=2e-3)


def test_decode_ahead_keeps_order_raises_in_order_and_stops_when_closed():
    import threading
    import time

    from mm2music.media.video import _ahead

    def numbers(fail_at=None, log=None):
        for i in range(10):
            if i == fail_at:
                raise MediaError("damaged at 3")
            if log is not None:
                log.append(i)
            yield i

    assert list(_ahead(numbers())) == list(range(10))
    got = []
    with pytest.raises(MediaError, match="damaged at 3"):
        for i in _ahead(numbers(fail_at=3)):
            got.append(i)
    assert got == [0, 1, 2]  # everything before the failure arrives first

    produced: list[int] = []
    it = _ahead(numbers(log=produced))
    assert next(it) == 0
    it.close()  # the caller stops early: the thread ends, a few chunks ahead at most
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "decode-ahead"]
    assert len(produced) <= 5


def test_decord_starting_late_is_caught_and_ffmpeg_decodes_instead(media_dir, monkeypatch):
    """decord 0.6 starts some MPEG-2 program streams 12 frames late (a real Kivy example clip): its first frame
    is checked against ffmpeg's for the less common containers, and ffmpeg decodes when they differ."""
    from mm2music.media import video

    path = media_dir / "program_stream.mpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "mpeg2video", "-bf", "2", "-g", "12", "-f", "vob", str(path))
    source = VideoSource(path, MediaConfig(frame_short_side=72))
    assert source.reader is not None  # this one decord reads right

    class Late:  # what decord does to the real clip
        def __init__(self, reader):
            self.reader = reader

        def __getitem__(self, i):
            return self.reader[i + 12]

        def seek(self, i):
            self.reader.seek(i)

    assert video._starts_like_ffmpeg(source.reader, path, source.frame_size)
    assert not video._starts_like_ffmpeg(Late(source.reader), path, source.frame_size)

    monkeypatch.setattr(video, "_starts_like_ffmpeg", lambda *args: False)
    late = VideoSource(path, MediaConfig(frame_short_side=72))
    assert late.reader is None
    chunks = list(late.chunks())
    assert sum(len(c) for c in chunks) == 50 and late.info.n_frames == 50
    assert np.allclose(np.concatenate([c.times for c in chunks])[:3], [0.0, 0.04, 0.08])
