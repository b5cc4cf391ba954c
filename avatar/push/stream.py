"""One RTMP(S) connection: H.264 and AAC in FLV, encoded and written with PyAV."""

from __future__ import annotations

import contextlib

import av
import av.error
import numpy as np
from av import AudioFrame, VideoFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream
from numpy.typing import NDArray

from avatar.settings import PushSettings

# Errors that the same URL and build will raise again however often it is retried.
PERMANENT = (
    av.error.ProtocolNotFoundError,
    av.error.EncoderNotFoundError,
    av.error.MuxerNotFoundError,
    av.error.OptionNotFoundError,
    ValueError,
)


class FlvStream:
    """Connects on construction (blocking: the worker process does this, never the service),
    then takes audio blocks and frames with timestamps counted from the connection's start."""

    def __init__(self, url: str, settings: PushSettings) -> None:
        s = settings
        self.bytes_out = 0
        self.container: OutputContainer = av.open(
            url,
            "w",
            format="flv",
            # RTMP cannot seek back to patch the header. The worker hands packets over in time
            # order, so they go out as they come instead of waiting (up to 10 s by default)
            # for the other stream's next packet.
            container_options={"flvflags": "no_duration_filesize", "max_interleave_delta": "1"},
        )
        try:
            gop = str(max(1, round(s.keyframe_s * s.fps)))
            video = self.container.add_stream(
                "libx264",
                rate=s.fps,
                options={
                    "preset": s.preset,
                    "tune": "zerolatency",
                    "g": gop,
                    "keyint_min": gop,
                    "sc_threshold": "0",
                    "maxrate": f"{s.video_kbps}k",
                    "bufsize": f"{2 * s.video_kbps}k",
                    "threads": "1",  # a card at 5 fps needs no more; the machine has 2 cores
                },
            )
            video.width, video.height, video.pix_fmt = s.width, s.height, "yuv420p"
            video.bit_rate = s.video_kbps * 1000
            audio = self.container.add_stream(
                "aac", rate=s.audio_rate, layout="stereo" if s.audio_channels == 2 else "mono"
            )
            audio.bit_rate = s.audio_kbps * 1000
            self.video: VideoStream = video
            self.audio: AudioStream = audio
            self.container.start_encoding()  # connects, handshakes and writes the FLV header
        except BaseException:
            self.abort()
            raise
        self.channels = s.audio_channels
        self.frame_size = audio.codec_context.frame_size or 1024

    def write_audio(self, samples: NDArray[np.int16], pts: int) -> None:
        """PCM16 mono samples starting at sample ``pts`` of this connection."""
        planar = np.repeat((samples.astype(np.float32) / 32768.0)[None, :], self.channels, 0)
        frame = AudioFrame.from_ndarray(planar, format="fltp", layout=self.audio.layout.name)
        frame.sample_rate, frame.pts = self.audio.rate, pts
        self._mux(self.audio.encode(frame))

    def write_video(self, frame: VideoFrame, pts: int) -> None:
        frame.pts = pts
        self._mux(self.video.encode(frame))

    def _mux(self, packets: list[Packet[AudioStream]] | list[Packet[VideoStream]]) -> None:
        for packet in packets:
            self.bytes_out += packet.size
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoders and end the stream; a connection already broken just closes."""
        try:
            self._mux(self.audio.encode(None))
            self._mux(self.video.encode(None))
        except (av.error.FFmpegError, OSError):
            pass
        self.abort()

    def abort(self) -> None:
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self.container.close()
