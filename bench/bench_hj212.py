"""HJ 212 codec throughput on one core: `python -m bench.bench_hj212`.

Decoding means cutting the frame from the stream, checking its CRC and parsing the header and
every CP item (what the TCP listener does per frame). Input: the 36 frames of
civicloop/ingest/tests/data/sample_packets.tsv, concatenated and fed in 4 KiB reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from civicloop.ingest.hj212 import (
    CrcMode,
    StreamDecoder,
    crc16_hj212,
    crc16_hj212_table,
    crc16_modbus,
)

SAMPLES = Path(__file__).resolve().parents[1] / "civicloop/ingest/tests/data/sample_packets.tsv"
READ_SIZE = 4096


def load_packets() -> list[bytes]:
    packets = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        packet = line.split("\t")[2]
        packets.append(packet.replace("\\r", "\r").replace("\\n", "\n").encode("utf-8"))
    return packets


def _best_rate(work: Callable[[], int], repeat: int = 5) -> float:
    """Items per CPU second of the fastest of `repeat` runs.

    CPU time of this (single-threaded) process, so other jobs on a shared box count less.
    """
    best = 0.0
    for _ in range(repeat):
        started = time.process_time()
        items = work()
        best = max(best, items / (time.process_time() - started))
    return best


def _decode_stream(stream: bytes, crc: CrcMode) -> int:
    decoder = StreamDecoder(crc=crc)
    frames = 0
    for at in range(0, len(stream), READ_SIZE):
        frames += len(decoder.feed(stream[at : at + READ_SIZE]))
    return frames + len(decoder.close())


def _crc_rate(function: Callable[[bytes], int], segments: list[bytes], rounds: int) -> float:
    def work() -> int:
        for _ in range(rounds):
            for segment in segments:
                function(segment)
        return rounds * len(segments)

    return _best_rate(work)


def run(rounds: int = 200) -> dict[str, float]:
    """Frames (or segments) per second; keys are stable for the lead's bench runner."""
    packets = load_packets()
    stream = b"".join(packets) * rounds
    segments = [packet[6 : packet.rindex(b"&&") + 2] for packet in packets]
    return {
        "frames": float(len(packets) * rounds),
        "mean_frame_bytes": sum(map(len, packets)) / len(packets),
        "decode_frames_per_s": _best_rate(lambda: _decode_stream(stream, CrcMode.STANDARD)),
        "decode_any_crc_frames_per_s": _best_rate(lambda: _decode_stream(stream, CrcMode.ANY)),
        "crc_fast_per_s": _crc_rate(crc16_hj212, segments, rounds),
        "crc_table_per_s": _crc_rate(crc16_hj212_table, segments, rounds),
        "crc_modbus_per_s": _crc_rate(crc16_modbus, segments, rounds),
    }


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main() -> None:
    _pin_to_one_core()
    result = run()
    print(f"HJ 212 codec, one core, {int(result['frames'])} frames per run")
    print(f"mean frame size: {result['mean_frame_bytes']:.0f} bytes")
    rows = [
        ("decode (deframe + standard CRC + full parse)", result["decode_frames_per_s"]),
        ("decode with --crc any", result["decode_any_crc_frames_per_s"]),
        ("CRC only, folded form", result["crc_fast_per_s"]),
        ("CRC only, table form", result["crc_table_per_s"]),
        ("CRC only, Modbus table", result["crc_modbus_per_s"]),
    ]
    for label, rate in rows:
        print(f"  {label:<46} {rate:>10,.0f} /s")


if __name__ == "__main__":
    main()
