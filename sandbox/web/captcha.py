"""Image captchas (PNG, digits on noise) without an imaging library.

The answer of each challenge is also written to ``<sandbox dir>/captcha/<id>.txt``: that file is
what a person would read off the image, and only the calibration stand-in for that person reads it.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

_FONT = {  # 5x7 digits
    "0": ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    "1": ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    "2": ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    "3": ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    "4": ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    "5": ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    "6": ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    "7": ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    "8": ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    "9": ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}
SCALE = 4


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + r for r in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def render(answer: str, seed: int) -> bytes:
    """A noisy PNG of ``answer`` (digits)."""
    rnd = random.Random(seed)
    width, height = (len(answer) * 7 + 4) * SCALE, 11 * SCALE
    pixels = [
        [(rnd.randint(200, 255), rnd.randint(200, 255), rnd.randint(200, 255)) for _ in range(width)]
        for _ in range(height)
    ]
    for i, ch in enumerate(answer):
        colour = (rnd.randint(0, 90), rnd.randint(0, 90), rnd.randint(60, 160))
        x0, y0 = (2 + i * 7) * SCALE, (2 + rnd.randint(-1, 1)) * SCALE
        for y, line in enumerate(_FONT[ch]):
            for x, bit in enumerate(line):
                if bit == "1":
                    for dy in range(SCALE):
                        for dx in range(SCALE):
                            py, px = y0 + y * SCALE + dy, x0 + x * SCALE + dx
                            if 0 <= py < height and 0 <= px < width:
                                pixels[py][px] = colour
    for _ in range(width):  # speckle
        pixels[rnd.randrange(height)][rnd.randrange(width)] = (rnd.randint(0, 255), 0, rnd.randint(0, 255))
    return _png(width, height, [bytes(c for px in row for c in px) for row in pixels])


def new_challenge(directory: Path, challenge_id: str, rnd: random.Random) -> str:
    """Create a challenge, record its answer for the human stand-in, return the answer."""
    answer = "".join(rnd.choice("0123456789") for _ in range(4))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{challenge_id}.txt").write_text(answer + "\n", encoding="utf-8")
    return answer
