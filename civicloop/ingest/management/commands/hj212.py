"""`civicloop hj212 decode|encode|simulate|replay`: the HJ 212 codec, a device simulator and
the replay of stored raw frames."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import BaseModel, ConfigDict, ValidationError

from civicloop.ingest import hj212, replay_command, simulate_command
from civicloop.ingest.loop import long_lived_process

DECODE_HELP = """\
Reads raw bytes (a capture of one or more frames; garbage between frames is skipped) and
prints one JSON object per frame found, one per line. Keys: ok, error (crc_mismatch,
length_mismatch, bad_header, truncated or null), errors, warnings, crc_variant, crc,
crc_expected, edition, code_edition, qn, st, cn, pw, mn, flag, pnum, pno, data_time (UTC,
ISO-8601), header, cp {fields, pollutants}, length, declared_length (null when the length
field is not four digits), offset, skipped. A `##` whose length field is not four digits but
is followed by `QN=` or `ST=` is reported as a bad_header frame, cut at the next CRLF or `##`.

  civicloop hj212 decode < capture.bin
  echo '##0087QN=…;CP=&&&&C241\\r\\n' | civicloop hj212 decode --escaped --crc any
"""

ENCODE_HELP = """\
Reads JSON: one object, an array of objects, or one object per line, so the output of
`hj212 decode` can be piped back in (keys not listed here are ignored). Writes the frames.

  {"st": "32", "cn": "2011",                         required
   "qn": "20240123123200001", "pw": "123456",        optional header fields
   "mn": "000101", "flag": 5, "pnum": 1, "pno": 1,
   "data_time": "2024-01-23T04:32:00+00:00",         optional: CP DataTime if cp has none
   "cp": {"fields": {"DataTime": "20240123123200"},
          "pollutants": {"w01018": {"Rtd": 4653.8, "Flag": "N"}}},
   "crc_variant": "standard"}                        standard|modbus|modbus-swapped

Values are strings or numbers (numbers are written in plain decimal notation). Fields come
first, one `;` item each, then one `;` item per pollutant with its suffixes joined by `,`.

  echo '{"st":"32","cn":"2011","mn":"000101","flag":4,
         "cp":{"pollutants":{"w01018":{"Rtd":12.5}}}}' | civicloop hj212 encode
"""

CpValueSpec = str | int | float


class CpSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, CpValueSpec] = {}
    pollutants: dict[str, dict[str, CpValueSpec]] = {}


class FrameSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    st: str
    cn: str
    qn: str | None = None
    pw: str | None = None
    mn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: datetime | None = None
    cp: CpSpec = CpSpec()
    crc_variant: hj212.CrcVariant | None = None


class Command(BaseCommand):
    help = (
        "HJ 212 codec: `decode` a capture into JSON lines, `encode` JSON into frames; "
        "`simulate` virtual devices against a listener; `replay` stored raw frames."
    )
    # A pure codec tool: it must work on a box whose settings or database are not set up.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        decode = actions.add_parser(
            "decode",
            help="bytes on stdin → one JSON object per frame",
            description=DECODE_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        decode.add_argument(
            "--crc", choices=[mode.value for mode in hj212.CrcMode], default="standard"
        )
        decode.add_argument("--max-length", type=int, default=hj212.MAX_LENGTH)
        self._add_io_arguments(decode, "input has `\\r` `\\n` written as two-character escapes")
        encode = actions.add_parser(
            "encode",
            help="JSON on stdin → frames",
            description=ENCODE_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        encode.add_argument(
            "--crc",
            choices=[variant.value for variant in hj212.CrcVariant],
            default=None,
            help="CRC variant (default: the object's crc_variant, else standard)",
        )
        self._add_io_arguments(encode, "print one frame per line with `\\r` `\\n` escaped")
        simulate = actions.add_parser("simulate", help="virtual devices against a listener")
        simulate_command.add_arguments(simulate)
        replay = actions.add_parser(
            "replay",
            help="judge stored raw frames again and store what passes",
            description=replay_command.REPLAY_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        replay_command.add_arguments(replay)

    def _add_io_arguments(self, parser: argparse.ArgumentParser, escaped_help: str) -> None:
        parser.add_argument("--file", default="-", help="read this file instead of stdin")
        parser.add_argument("--output", default="-", help="write this file instead of stdout")
        parser.add_argument("--escaped", action="store_true", help=escaped_help)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "simulate":
            with long_lived_process():
                simulate_command.run(options, self.stdout)
            return
        if options["action"] == "replay":
            replay_command.run(options, self.stdout)
            return
        data = _read(options["file"])
        if options["action"] == "decode":
            text = self._decode(data, options)
        else:
            text = self._encode(data, options)
        if options["output"] == "-":
            self.stdout.write(text, ending="")
        else:
            Path(options["output"]).write_bytes(text.encode("utf-8"))

    def _decode(self, data: bytes, options: dict[str, Any]) -> str:
        if options["escaped"]:
            data = data.replace(b"\\r", b"\r").replace(b"\\n", b"\n")
        try:
            decoder = hj212.StreamDecoder(crc=options["crc"], max_length=options["max_length"])
        except hj212.Hj212Error as error:
            raise CommandError(error.message) from error
        frames = decoder.feed(data) + decoder.close()
        if options["verbosity"] >= 1:
            ok = sum(frame.ok for frame in frames)
            garbage = decoder.deframer.garbage_bytes
            self.stderr.write(f"frames: {len(frames)}, ok: {ok}, garbage bytes: {garbage}")
        return "".join(json.dumps(frame.to_dict(), ensure_ascii=False) + "\n" for frame in frames)

    def _encode(self, data: bytes, options: dict[str, Any]) -> str:
        frames = [_encode_spec(spec, options["crc"]) for spec in _load_specs(data)]
        if not options["escaped"]:
            return b"".join(frames).decode("utf-8")
        return "".join(_escape(frame) + "\n" for frame in frames)


def _escape(frame: bytes) -> str:
    return frame.decode("utf-8").replace("\r", "\\r").replace("\n", "\\n")


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {name}: {error.strerror}") from error


def _load_specs(data: bytes) -> list[FrameSpec]:
    try:
        text = data.decode("utf-8")
        try:
            loaded = json.loads(text)
            documents = loaded if isinstance(loaded, list) else [loaded]
        except json.JSONDecodeError:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [FrameSpec.model_validate(document) for document in documents]
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"input is not JSON: {error}") from error
    except ValidationError as error:
        raise CommandError(f"bad frame description: {error}") from error


def _encode_spec(spec: FrameSpec, crc: str | None) -> bytes:
    fields: dict[str, hj212.CpValue] = dict(spec.cp.fields)
    if spec.data_time is not None and "DataTime" not in fields:
        fields["DataTime"] = spec.data_time
    try:
        return hj212.encode_frame(
            st=spec.st,
            cn=spec.cn,
            qn=spec.qn,
            pw=spec.pw,
            mn=spec.mn,
            flag=spec.flag,
            pnum=spec.pnum,
            pno=spec.pno,
            cp=hj212.build_cp(fields, spec.cp.pollutants),
            crc=crc or spec.crc_variant or hj212.CrcVariant.STANDARD,
        )
    except hj212.Hj212Error as error:
        raise CommandError(error.message) from error
