"""What a SIPp far end says when it picks up, and what it hears back.

Recordings are made with the answering-machine set's own sounds (bench/amd/sounds.py: the dialer's
offline TTS, beeps, the μ-law round trip) and written as raw G.711 μ-law, the file SIPp's
`<exec rtp_stream="file,loops,0"/>` sends 160 bytes at a time every 20 ms (SIPp 3.6.1 reads the
file whole, with no header). `RtpTap` is how a test hears what reached the far end: it reads the
loopback interface (an AF_PACKET socket, as root like SIPp's own pcap play) and keeps the RTP our
line sends, so the test can decode it.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.amd.sounds import Audio, active_rms, beep, silence, speak, to_pcm

SAMPLE_RATE = 8000
LEVEL_DBFS = -20.0  # the far end's speech level
BEEP_HZ = 1000.0


@dataclass(frozen=True)
class Recording:
    """A far end's side of the call, from its answer on: μ-law bytes and where things lie in it."""

    ulaw: bytes
    speech_end_ms: int
    beep_end_ms: int | None = None

    @property
    def duration_ms(self) -> int:
        return len(self.ulaw) * 1000 // SAMPLE_RATE

    def write(self, path: Path) -> Path:
        path.write_bytes(self.ulaw)
        return path


def _spoken(cache: Path, text: str) -> Audio:
    said = speak(cache, "en", text, 1.0)
    return said * (32768 * 10 ** (LEVEL_DBFS / 20) / (active_rms(said) or 1.0))


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE


def human_pickup(cache: Path) -> Recording:
    """'Hello?' after 0.4 s, then the silence of a person waiting for an answer."""
    parts = [silence(0.4), _spoken(cache, "Hello?")]
    spoken = sum(p.size for p in parts)
    return Recording(to_ulaw(to_pcm(np.concatenate([*parts, silence(8.0)]))), speech_end_ms=_ms(spoken))


def machine_greeting(cache: Path) -> Recording:
    """A voicemail greeting of three sentences, a beep, then the silence of a machine recording."""
    parts: list[Audio] = [silence(0.3)]
    for n, text in enumerate(("Hi, you've reached John.", "I can't take your call right now.",
                              "Please leave a message after the tone.")):
        if n:
            parts.append(silence(0.4))
        parts.append(_spoken(cache, text))
    speech_end = sum(p.size for p in parts)
    peak = 32768 * 10 ** (LEVEL_DBFS / 20) * np.sqrt(2)
    parts += [silence(0.3), beep(BEEP_HZ, 0.5) * peak]
    beep_end = sum(p.size for p in parts)
    return Recording(to_ulaw(to_pcm(np.concatenate([*parts, silence(8.0)]))), speech_end_ms=_ms(speech_end),
                     beep_end_ms=_ms(beep_end))


def to_ulaw(pcm: npt.NDArray[np.int16]) -> bytes:
    """G.711 μ-law encoding of 16-bit samples (the segment of |x| + 132, sign bit, inverted)."""
    values = pcm.astype(np.int32)
    magnitude = np.minimum(np.abs(values), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    sign = np.where(values < 0, 0x80, 0)
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def from_ulaw(data: bytes) -> npt.NDArray[np.float64]:
    """μ-law bytes back to samples (full scale ±32768)."""
    code = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.float64)


@dataclass(frozen=True)
class RtpPacket:
    src_port: int
    dst_port: int
    sequence: int
    timestamp: int
    payload_type: int
    payload: bytes


_ETH_P_ALL = 0x0003
_PACKET_HOST = 0  # loopback shows each packet twice: as sent (outgoing) and as received (host)


class RtpTap:
    """The RTP sent from UDP ports lo..hi on the loopback interface, kept while it runs."""

    def __init__(self, ports: tuple[int, int]):
        self.ports = ports
        self.packets: list[RtpPacket] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._thread = threading.Thread(target=self._run, name="rtp-tap", daemon=True)

    def __enter__(self) -> RtpTap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._sock], [], [], 0.1)[0]:
                continue
            frame, address = self._sock.recvfrom(65535)
            if address[2] == _PACKET_HOST:
                packet = self._rtp(frame[14:])  # after the (all-zero) Ethernet header of lo
                if packet is not None:
                    self.packets.append(packet)

    def _rtp(self, ip: bytes) -> RtpPacket | None:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            return None
        udp = ip[(ip[0] & 0x0F) * 4:]
        src, dst = struct.unpack("!HH", udp[:4])
        rtp = udp[8:]
        if not self.ports[0] <= src < self.ports[1] or len(rtp) < 12 or rtp[0] >> 6 != 2:
            return None
        sequence, timestamp = struct.unpack("!HI", rtp[2:8])
        return RtpPacket(src, dst, sequence, timestamp, rtp[1] & 0x7F, rtp[12:])

    def audio_to(self, port: int) -> list[RtpPacket]:
        """The PCMU packets sent to `port`, in the order they came (loopback keeps it)."""
        return [p for p in self.packets if p.dst_port == port and p.payload_type == 0]
