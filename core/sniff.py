"""What a file's own bytes say before any decoder opens it: which decoder should read it, the
length an MP3's Xing/Info/VBRI tag counts, and whether an Ogg or CAF file was cut short.

Reading a few hundred bytes here keeps files away from libsndfile that it does not read well:
its MP3 decoder (mpg123) prints notes on stderr for anything that is not clean MPEG audio
("Note: Trying to resync..."), and it stops an MP3 at the length its tag states even when more
audio follows (two files joined with ``cat``).

Sources: the MPEG audio frame header (www.mp3-tech.org/programmer/frame_header.html), the LAME
tag specification (gabriel.mp3-tech.org/mp3infotag.html), the Fraunhofer VBRI header, ID3v2.4
(id3.org/id3v2.4.0-structure), APEv2 (wiki.hydrogenaud.io/index.php?title=APEv2_specification),
RFC 3533 (the Ogg page) and Apple's Core Audio Format specification (the CAF chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The first bytes of the formats libsndfile decodes faster than FFmpeg (audio.SNDFILE_FORMATS):
# RIFF/RIFX/RF64/BW64 WAV, FORM AIFF, fLaC, .snd AU (either byte order), riff W64, caff CAF.
SNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"FORM", b"fLaC", b".snd", b"dns.", b"riff", b"caff")
# Audio past a tag's byte count, beyond trailing tags, that is more than a frame or two: more
# audio (the largest Layer III frame is 2,881 bytes: 160 kbit/s MPEG-2.5 at 8 kHz).
MORE_AUDIO_BYTES = 4096
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_OGG_MAX_PAGE = 27 + 255 + 255 * 255  # header, segment table, 255 segments of 255 bytes


@dataclass(frozen=True)
class Head:
    """The start of a file: ``data``, up to 200 bytes from ``start`` (past any ID3v2 tag), and
    ``audio_bytes``, the bytes from ``start`` to the end less trailing ID3v1 and APEv2 tags."""

    data: bytes
    start: int
    audio_bytes: int

    @property
    def sndfile_format(self) -> bool:
        return self.data[:4] in SNDFILE_MAGIC


@dataclass(frozen=True)
class Mp3Tag:
    """The Xing/Info or VBRI tag in an MP3's first frame: frames and bytes it counts (None when
    not stated), samples per frame (1,152 in MPEG-1, 576 in MPEG-2 and 2.5) and the sample rate."""

    frames: int | None
    n_bytes: int | None
    samples_per_frame: int
    sr: int

    @property
    def samples(self) -> int:
        """The length the tag counts, in samples: exact up to the encoder's delay and padding."""
        return (self.frames or 0) * self.samples_per_frame

    def cut(self, head: Head) -> bool:
        return self.n_bytes is not None and head.audio_bytes < self.n_bytes

    def more_audio(self, head: Head) -> bool:
        return self.n_bytes is not None and head.audio_bytes > self.n_bytes + MORE_AUDIO_BYTES


def read_head(path: Path) -> Head:
    """The first bytes of ``path`` past any ID3v2 tag, and how many bytes of audio follow.

    Raises ``OSError`` for a file that cannot be read.
    """
    with open(path, "rb") as f:
        start = _id3v2_size(f.read(10))
        f.seek(start)
        data = f.read(200)
        size = f.seek(0, 2)
        f.seek(max(0, size - 160))
        tail = f.read()
    return Head(data, start, size - start - _trailing_tags(tail))


def _id3v2_size(head: bytes) -> int:
    """Bytes of an ID3v2 tag at the start (``head``: its first 10 bytes), 0 without one: the size
    is four 7-bit bytes, plus a 10-byte footer if flagged."""
    if head[:3] != b"ID3" or len(head) < 10:
        return 0
    return 10 + int.from_bytes(bytes(b & 0x7F for b in head[6:10]), "big") + (10 if head[5] & 0x10 else 0)


def _trailing_tags(tail: bytes) -> int:
    """Bytes of an ID3v1 tag (128) and an APEv2 tag (its footer states its size) at the end;
    ``tail``: the last 160 bytes of the file."""
    n = 128 if tail[-128:-125] == b"TAG" else 0
    footer = tail[len(tail) - n - 32: len(tail) - n]
    if footer[:8] == b"APETAGEX":
        flags = int.from_bytes(footer[20:24], "little")
        n += int.from_bytes(footer[12:16], "little") + (32 if flags & 0x80000000 else 0)
    return n


def mp3_tag(head: Head) -> Mp3Tag | None:
    """The Xing/Info or VBRI tag of the MPEG Layer III frame at ``head``, or None (no such frame,
    or no tag in it). The Xing tag sits right after the side information (17 or 32 bytes in
    MPEG-1, 9 or 17 in MPEG-2 and 2.5, for mono or not); VBRI 32 bytes after the header."""
    frame = head.data
    if len(frame) < 48 or frame[0] != 0xFF or frame[1] & 0xE6 != 0xE2:  # frame sync, Layer III
        return None
    version, rate = (frame[1] >> 3) & 0x3, (frame[2] >> 2) & 0x3
    if version not in _MPEG_RATES or rate == 3:
        return None
    mono, sr = (frame[3] >> 6) == 0x3, _MPEG_RATES[version][rate]
    spf = 1152 if version == 3 else 576
    at = 4 + ((17 if mono else 32) if version == 3 else (9 if mono else 17))
    if frame[at: at + 4] in (b"Xing", b"Info"):
        flags = int.from_bytes(frame[at + 4: at + 8], "big")
        frames = int.from_bytes(frame[at + 8: at + 12], "big") if flags & 0x1 else None
        n_bytes_at = at + (12 if flags & 0x1 else 8)
        n_bytes = int.from_bytes(frame[n_bytes_at: n_bytes_at + 4], "big") if flags & 0x2 else None
        return Mp3Tag(frames, n_bytes, spf, sr)
    if frame[36:40] == b"VBRI":
        return Mp3Tag(int.from_bytes(frame[50:54], "big"), int.from_bytes(frame[46:50], "big"), spf, sr)
    return None


def ogg_cut(path: Path) -> str | None:
    """Why an Ogg file (Vorbis, Opus, FLAC in Ogg) was cut short, or None when its last page
    ends the file and carries the end-of-stream flag, as every encoder writes it (RFC 3533)."""
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - _OGG_MAX_PAGE))
        tail = f.read()
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:
        n_segments = tail[at + 26] if at + 27 <= len(tail) else 0
        table = tail[at + 27: at + 27 + n_segments]
        if at + 27 <= len(tail) and at + 27 + n_segments + sum(table) == len(tail):
            return None if tail[at + 5] & 0x4 else "its last Ogg page does not end the stream"
    return "it ends inside an Ogg page"


def caf_cut(path: Path) -> str | None:
    """Why a CAF file was cut short (its data chunk runs past the end), or None.

    Chunks follow the 8-byte file header: a 4-byte type and a signed 64-bit size; a data
    chunk of size -1 runs to the end of the file.
    """
    with open(path, "rb") as f:
        size, at = f.seek(0, 2), 8
        while at + 12 <= size:
            f.seek(at)
            header = f.read(12)
            length = int.from_bytes(header[4:], "big", signed=True)
            if header[:4] == b"data":
                if length >= 0 and at + 12 + length > size:
                    return f"its data chunk holds {length} bytes, the file only {size - at - 12}"
                return None
            at += 12 + max(0, length)
    return None
