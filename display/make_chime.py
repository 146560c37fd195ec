"""Synthesise the display's chime (display/static/sounds/chime.ogg): run once, result committed.

Two bell-like tones (E5 then C5, a falling third), each a few decaying
harmonics, 1.3 s in all. Needs sox to encode the OGG.
"""

from __future__ import annotations

import math
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

RATE = 44100
OUT = Path(__file__).resolve().parent / "static" / "sounds" / "chime.ogg"


def bell(frequency: float, start: float, length: float, samples: list[float]) -> None:
    partials = ((1.0, 1.0), (2.0, 0.35), (3.0, 0.12), (4.2, 0.05))
    first = int(start * RATE)
    for n in range(int(length * RATE)):
        t = n / RATE
        attack = min(1.0, t / 0.008)
        value = 0.0
        for ratio, amplitude in partials:
            value += (
                amplitude
                * math.exp(-t * (2.2 + ratio))
                * math.sin(2 * math.pi * frequency * ratio * t)
            )
        if first + n < len(samples):
            samples[first + n] += attack * value


def main() -> None:
    samples = [0.0] * int(1.5 * RATE)
    bell(659.25, 0.0, 1.4, samples)
    bell(523.25, 0.45, 1.05, samples)
    peak = max(abs(s) for s in samples)
    with tempfile.TemporaryDirectory() as folder:
        wav_path = Path(folder) / "chime.wav"
        with wave.open(str(wav_path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(
                b"".join(struct.pack("<h", int(32767 * 0.8 * s / peak)) for s in samples)
            )
        OUT.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["sox", str(wav_path), "-C", "3", str(OUT), "fade", "0", "-0", "0.2"], check=True
        )
    print(OUT, OUT.stat().st_size)


if __name__ == "__main__":
    main()
