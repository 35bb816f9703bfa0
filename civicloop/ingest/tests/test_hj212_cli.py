from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicloop.ingest.hj212 import frame_segment
from civicloop.ingest.tests.test_hj212_frames import SAMPLES, STANDARD_EXAMPLE

HTTP_SCAN = b"GET / HTTP/1.1\r\nHost: 10.0.0.1:9000\r\n\r\n"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("hj212", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def decode_file(tmp_path: Path, data: bytes, *args: str) -> list[dict[str, Any]]:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(data)
    out, _ = run("decode", "--file", str(capture), *args)
    return [json.loads(line) for line in out.splitlines()]


def civicloop_command() -> list[str]:
    script = Path(sys.executable).with_name("civicloop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "civicloop"]


def test_decode_a_2017_frame(tmp_path: Path) -> None:
    [frame] = decode_file(tmp_path, STANDARD_EXAMPLE)
    assert frame == {
        "ok": True,
        "error": None,
        "errors": [],
        "warnings": [],
        "crc_variant": "standard",
        "crc": "1C80",
        "crc_expected": "1C80",
        "edition": "2017",
        "code_edition": "none",
        "qn": "20160801085857223",
        "st": "32",
        "cn": "1062",
        "pw": "100000",
        "mn": "010000A8900016F000169DC0",
        "flag": 5,
        "pnum": None,
        "pno": None,
        "data_time": None,
        "header": {
            "QN": "20160801085857223",
            "ST": "32",
            "CN": "1062",
            "PW": "100000",
            "MN": "010000A8900016F000169DC0",
            "Flag": "5",
        },
        "cp": {"fields": {"RtdInterval": "30"}, "pollutants": {}},
        "length": 101,
        "declared_length": 101,
        "offset": 0,
        "skipped": 0,
    }


def test_decode_a_2005_frame(tmp_path: Path) -> None:
    [frame] = decode_file(tmp_path, SAMPLES[1].packet)
    assert frame["ok"] is True
    assert frame["edition"] == "2005"
    assert frame["code_edition"] == "2005"
    assert frame["warnings"] == ["lowercase_crc"]
    assert (frame["qn"], frame["flag"], frame["mn"]) == (None, None, "LD130133000015")
    assert frame["data_time"] == "2016-08-23T16:38:17+00:00"
    assert frame["cp"]["pollutants"]["011"] == {"Rtd": "231.0", "Flag": "N"}


def test_decode_bad_crc_and_crc_modes(tmp_path: Path) -> None:
    packet = SAMPLES[28].packet  # linqiu126/hcu, Modbus CRC printed high byte first
    [standard] = decode_file(tmp_path, packet)
    assert (standard["ok"], standard["error"], standard["crc_variant"]) == (
        False,
        "crc_mismatch",
        None,
    )
    assert standard["cn"] == "1072"
    [lenient] = decode_file(tmp_path, packet, "--crc", "any")
    assert (lenient["ok"], lenient["error"], lenient["crc_variant"]) == (True, None, "modbus")
    [modbus] = decode_file(tmp_path, packet, "--crc", "modbus")
    assert modbus["crc_variant"] == "modbus"


def test_decode_sticky_input_with_garbage(tmp_path: Path) -> None:
    no_crlf = SAMPLES[27].packet  # jinuxx 9014 without CRLF
    frames = decode_file(tmp_path, HTTP_SCAN + STANDARD_EXAMPLE + no_crlf + SAMPLES[19].packet)
    assert [frame["cn"] for frame in frames] == ["1062", "9014", "2011"]
    assert [frame["warnings"] for frame in frames] == [[], ["missing_crlf"], []]
    assert [frame["skipped"] for frame in frames] == [len(HTTP_SCAN), 0, 0]
    assert frames[2]["offset"] == len(HTTP_SCAN) + len(STANDARD_EXAMPLE) + len(no_crlf)


def test_decode_length_mismatch_and_truncated(tmp_path: Path) -> None:
    frames = decode_file(tmp_path, SAMPLES[2].packet + STANDARD_EXAMPLE[:40])
    assert [frame["error"] for frame in frames] == ["length_mismatch", "truncated"]
    assert frames[0]["declared_length"] == 1025
    assert frames[0]["length"] == 139


def test_decode_escaped_input(tmp_path: Path) -> None:
    line = STANDARD_EXAMPLE.replace(b"\r\n", b"\\r\\n") + b"\n"
    [frame] = decode_file(tmp_path, line, "--escaped")
    assert frame["ok"] is True
    assert frame["warnings"] == []


def test_decode_prints_a_summary_on_stderr(tmp_path: Path) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(HTTP_SCAN + STANDARD_EXAMPLE + SAMPLES[0].packet)
    _, err = run("decode", "--file", str(capture))
    assert err == f"frames: 2, ok: 1, garbage bytes: {len(HTTP_SCAN)}\n"


def test_decode_reports_a_malformed_length_field(tmp_path: Path) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"##00zzST=32;CN=2011;PW=1;MN=1;CP=&&&&ABCD\r\n" + STANDARD_EXAMPLE)
    out, err = run("decode", "--file", str(capture))
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {
        "ok": False,
        "error": "bad_header",
        "errors": ["bad_header", "crc_mismatch"],
        "warnings": [],
        "crc_variant": None,
        "crc": "ABCD",
        "crc_expected": "D701",
        "edition": "2005",
        "code_edition": "none",
        "qn": None,
        "st": "32",
        "cn": "2011",
        "pw": "1",
        "mn": "1",
        "flag": None,
        "pnum": None,
        "pno": None,
        "data_time": None,
        "header": {"ST": "32", "CN": "2011", "PW": "1", "MN": "1"},
        "cp": {"fields": {}, "pollutants": {}},
        "length": 31,
        "declared_length": None,
        "offset": 0,
        "skipped": 0,
    }
    assert (second["ok"], second["offset"]) == (True, 43)  # resynchronised on the next `##`
    assert err == "frames: 2, ok: 1, garbage bytes: 0\n"


def test_encode_then_decode_round_trip(tmp_path: Path) -> None:
    spec = {
        "st": "32",
        "cn": "2051",
        "qn": "20240123123200001",
        "pw": "123456",
        "mn": "000101",
        "flag": 5,
        "data_time": "2024-01-23T04:30:00+00:00",
        "cp": {"pollutants": {"w01018": {"Avg": 46.5, "Flag": "N"}, "w00000": {"Cou": 12}}},
    }
    source = tmp_path / "frame.json"
    source.write_text(json.dumps(spec))
    out, _ = run("encode", "--file", str(source))
    segment = (
        "QN=20240123123200001;ST=32;CN=2051;PW=123456;MN=000101;Flag=5;"
        "CP=&&DataTime=20240123123000;w01018-Avg=46.5,w01018-Flag=N;w00000-Cou=12&&"
    )
    assert out == frame_segment(segment).decode()
    assert out.startswith(f"##{len(segment):04d}QN=")
    [frame] = decode_file(tmp_path, out.encode())
    assert frame["ok"] is True
    assert frame["data_time"] == "2024-01-23T04:30:00+00:00"
    assert frame["cp"]["pollutants"] == {
        "w01018": {"Avg": "46.5", "Flag": "N"},
        "w00000": {"Cou": "12"},
    }


def test_decoded_json_lines_encode_back_to_the_same_frames(tmp_path: Path) -> None:
    frames = decode_file(tmp_path, STANDARD_EXAMPLE + SAMPLES[13].packet)
    lines = tmp_path / "frames.jsonl"
    lines.write_text("".join(json.dumps(frame) + "\n" for frame in frames))
    output = tmp_path / "out.bin"
    run("encode", "--file", str(lines), "--output", str(output))
    assert output.read_bytes() == STANDARD_EXAMPLE + SAMPLES[13].packet


def test_encode_with_another_crc_variant_escaped(tmp_path: Path) -> None:
    source = tmp_path / "frame.json"
    source.write_text(
        '[{"st": "32", "cn": "9021"}, {"st": "32", "cn": "9021", "crc_variant": "modbus"}]'
    )
    out, _ = run("encode", "--file", str(source), "--escaped", "--crc", "modbus-swapped")
    first, second = out.splitlines()
    assert first == second
    assert first.endswith("\\r\\n")
    [frame] = decode_file(tmp_path, first.encode(), "--escaped", "--crc", "modbus-swapped")
    assert frame["ok"] is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "input is not JSON"),
        ('{"cn": "2011"}', "bad frame description"),
        ('{"st": "32", "cn": "2011", "mn": "a;b"}', "cannot be sent in a header"),
        ('{"st": "32", "cn": "2011", "cp": {"fields": {"A": "x;y"}}}', "cannot be sent in HJ 212"),
        ('{"st": "32", "cn": "2011", "data_time": "2024-01-01T00:00:00"}', "aware datetimes"),
    ],
)
def test_encode_refuses_bad_input(tmp_path: Path, document: str, message: str) -> None:
    source = tmp_path / "frame.json"
    source.write_text(document)
    with pytest.raises(CommandError, match=message):
        run("encode", "--file", str(source))


def test_missing_input_file_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run("decode", "--file", str(tmp_path / "missing.bin"))


def test_console_script_reads_stdin() -> None:
    stream = HTTP_SCAN + STANDARD_EXAMPLE + SAMPLES[17].packet
    result = subprocess.run(
        [*civicloop_command(), "hj212", "decode", "--crc", "any"],
        input=stream,
        capture_output=True,
        check=True,
        timeout=60,
    )
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(frame["cn"], frame["crc_variant"]) for frame in frames] == [
        ("1062", "standard"),
        ("2011", "modbus-swapped"),
    ]


def test_encode_help_documents_the_json_shape() -> None:
    result = subprocess.run(
        [*civicloop_command(), "hj212", "encode", "--help"],
        capture_output=True,
        check=True,
        timeout=60,
        text=True,
    )
    assert '"pollutants": {"w01018": {"Rtd": 4653.8, "Flag": "N"}}' in result.stdout
    assert "crc_variant" in result.stdout
