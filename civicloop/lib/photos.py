"""Photo uploads: recognise them by content, read the few EXIF facts we need, publish clean copies.

Evidence photos come straight from residents' phones, so the original carries the exact spot
where it was taken (often the reporter's home), the device and the time. The original stays
private as evidence; anything shown to other people must go through `public_copy` or
`thumbnail`, which re-encode the pixels and carry no metadata at all.

Colour profiles: the clean copies are converted to sRGB and then carry no ICC profile. Browsers
treat untagged images as sRGB, so the colours stay right (an iPhone's Display P3 photo would
otherwise look washed out), and the copy holds no metadata bytes whatsoever: ICC profiles name
the device vendor and are a known fingerprinting vector.

Only Pillow, pillow-heif and the standard library are used, so this module is free of Django.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import ExifTags, Image, ImageCms

# Registering makes Pillow decode HEIC/HEIF; iPhones save photos in that format by default.
pillow_heif.register_heif_opener()

__all__ = [
    "MAX_PIXELS",
    "PhotoError",
    "PhotoInfo",
    "PhotoTooLarge",
    "UnsupportedPhoto",
    "inspect_photo",
    "public_copy",
    "thumbnail",
]

# EXIF times without an offset were taken on a phone set to local time; our users are in Yiwu.
SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

# 64-megapixel phone sensors give 9248 x 6936 = 64.1 MP; anything much larger is a decompression
# bomb (a tiny file that decodes to gigabytes), not a photo of a pothole. This stays below
# Pillow's own 89 MP warning threshold, so ordinary rejects happen before Pillow complains.
MAX_PIXELS: Final = 80_000_000

JPEG_QUALITY: Final = 85
THUMBNAIL_QUALITY: Final = 80

# Everything Pillow and pillow-heif raise for malformed input. Catching a named set (instead of
# Exception) keeps MemoryError and programming errors loud.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    ZeroDivisionError,
    RuntimeError,
)


def gettext_noop(message: str) -> str:
    """Marks a message for `makemessages` without importing Django (this module is pure);
    callers show `PhotoError.localized(gettext)`."""
    return message


_NOT_A_PHOTO: Final = gettext_noop("不支持的文件类型，请上传 JPEG、PNG、WebP 或 HEIC 格式的照片")
_BROKEN: Final = gettext_noop("照片文件已损坏或不完整，请重新拍摄或上传")
_TOO_MANY_PIXELS: Final = gettext_noop("照片像素过多（上限 %(wan)s 万像素），请缩小后再上传")

# In 万 (10⁴ pixels), as Chinese counts them.
_PIXEL_LIMIT: Final = {"wan": MAX_PIXELS // 10_000}


class PhotoError(Exception):
    """A photo we refuse; `code` is for API clients, `message` is shown to the user and
    `status` is the HTTP status an API should answer with (as in civicloop.lib.errors).
    `template` and `params` let a caller translate it: `localized(gettext)`."""

    code: ClassVar[str] = "photo_error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = gettext_noop("照片无法处理")

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.template = message or self.default_message
        self.params = params
        self.message = self.template % params if params else self.template
        super().__init__(self.message)

    def localized(self, translate: Callable[[str], str]) -> str:
        """The message in the caller's language (e.g. `django.utils.translation.gettext`)."""
        text = translate(self.template)
        return text % self.params if self.params else text


class PhotoTooLarge(PhotoError):
    code = "photo_too_large"
    status = 413
    default_message = gettext_noop("照片文件过大")

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        super().__init__(
            gettext_noop("照片文件过大（%(size)s），请上传不超过 %(limit)s 的照片"),
            size=_human_size(size),
            limit=_human_size(max_bytes),
        )


class UnsupportedPhoto(PhotoError):
    code = "unsupported_media_type"
    status = 415
    default_message = _NOT_A_PHOTO


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What we learnt from an upload. Width and height are as displayed (EXIF orientation
    applied); taken_at is UTC; gps_lat/gps_lon are WGS-84 decimal degrees as written by the
    device (EXIF GPS is WGS-84 by definition; no GCJ-02 shift is applied here)."""

    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str
    taken_at: datetime | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    make: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class _Kind:
    """A format we accept: how to recognise it and how its public copy is written."""

    content_type: str
    extension: str
    pillow_format: str  # the only Pillow plugin allowed to open it
    pillow_names: frozenset[str]  # what Image.format may report after opening
    public_format: str


_JPEG: Final = _Kind("image/jpeg", "jpg", "JPEG", frozenset({"JPEG", "MPO"}), "JPEG")
_PNG: Final = _Kind("image/png", "png", "PNG", frozenset({"PNG"}), "PNG")
_WEBP: Final = _Kind("image/webp", "webp", "WEBP", frozenset({"WEBP"}), "WEBP")
# Browsers cannot show HEIC, so its public copy is a JPEG.
_HEIC: Final = _Kind("image/heic", "heic", "HEIF", frozenset({"HEIF"}), "JPEG")
_HEIF: Final = _Kind("image/heif", "heif", "HEIF", frozenset({"HEIF"}), "JPEG")

_HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_HEIF_BRANDS: Final = frozenset({b"mif1", b"msf1"})
# AVIF files also list mif1; they are a different codec that we do not accept.
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})


@dataclass(frozen=True, slots=True)
class _Output:
    format: str
    content_type: str
    options: Mapping[str, Any] = field(default_factory=dict)


_OUTPUTS: Final = {
    "JPEG": _Output(
        "JPEG", "image/jpeg", {"quality": JPEG_QUALITY, "optimize": True, "progressive": True}
    ),
    "PNG": _Output("PNG", "image/png"),
    "WEBP": _Output("WEBP", "image/webp", {"quality": JPEG_QUALITY}),
}
_THUMBNAIL_OUTPUT: Final = _Output(
    "JPEG", "image/jpeg", {"quality": THUMBNAIL_QUALITY, "optimize": True}
)

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

_EXIF_DATETIME: Final = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET: Final = re.compile(r"([+-])(\d{2}):(\d{2})")
_MAX_UTC_OFFSET: Final = timedelta(hours=14)

_SRGB: Final = ImageCms.createProfile("sRGB")


# --- public API -------------------------------------------------------------------------------


def inspect_photo(data: bytes, *, max_bytes: int) -> PhotoInfo:
    """Validate an upload by its content and read its metadata.

    Raises PhotoTooLarge (checked before any decoding) or UnsupportedPhoto.
    """
    if len(data) > max_bytes:
        raise PhotoTooLarge(len(data), max_bytes)
    image, kind = _decode(data)
    exif = _read_exif(image)
    width, height = image.size
    if _orientation(exif) in _SWAPS_AXES:
        width, height = height, width
    gps_lat, gps_lon = _gps(_sub_ifd(exif, ExifTags.IFD.GPSInfo))
    return PhotoInfo(
        content_type=kind.content_type,
        extension=kind.extension,
        width=width,
        height=height,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        taken_at=_taken_at(exif),
        gps_lat=gps_lat,
        gps_lon=gps_lon,
        make=_text(exif.get(ExifTags.Base.Make)),
        model=_text(exif.get(ExifTags.Base.Model)),
    )


def public_copy(data: bytes, *, max_side: int = 2048) -> tuple[bytes, str]:
    """A metadata-free, upright copy no larger than max_side, and its content type.

    JPEG, PNG and WebP keep their format; HEIC/HEIF become JPEG. Call inspect_photo first:
    this function re-validates the content but does not enforce a byte limit.
    """
    image, kind = _decode(data)
    output = _OUTPUTS[kind.public_format]
    return _encode(_render(image, max_side, output.format), output), output.content_type


def thumbnail(data: bytes, *, side: int = 320) -> bytes:
    """A metadata-free JPEG whose longest side is at most `side` (never cropped, never enlarged).

    Cropping to a square could cut away the very problem the photo documents.
    """
    image, _ = _decode(data)
    return _encode(_render(image, side, "JPEG"), _THUMBNAIL_OUTPUT)


# --- recognising and decoding -----------------------------------------------------------------


def _sniff(data: bytes) -> _Kind | None:
    """The format by magic bytes; the file name and declared type are never trusted."""
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    brands = _ftyp_brands(data)
    if brands & _AVIF_BRANDS:
        return None
    if brands & _HEIC_BRANDS:
        return _HEIC
    if brands & _HEIF_BRANDS:
        return _HEIF
    return None


def _ftyp_brands(data: bytes) -> frozenset[bytes]:
    """Major and compatible brands of an ISO-BMFF `ftyp` box (the first box of a HEIF file)."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return frozenset()
    box_size = int.from_bytes(data[:4], "big")
    if not 16 <= box_size <= min(len(data), 4096):
        return frozenset()
    compatible = (data[offset : offset + 4] for offset in range(16, box_size - 3, 4))
    return frozenset({data[8:12], *compatible})


def _decode(data: bytes) -> tuple[Image.Image, _Kind]:
    """Open with the one plugin the magic bytes allow, check the pixel count, decode fully.

    The full decode is what catches truncated and corrupt files; it also means Pillow never
    substitutes an embedded thumbnail, which may show the picture as it was before editing.
    """
    kind = _sniff(data)
    if kind is None:
        raise UnsupportedPhoto(_NOT_A_PHOTO)
    try:
        image = Image.open(io.BytesIO(data), formats=[kind.pillow_format])
        _check_opened(image, kind)
        image.load()
    except Image.DecompressionBombError as exc:
        raise UnsupportedPhoto(_TOO_MANY_PIXELS, **_PIXEL_LIMIT) from exc
    except _DECODE_ERRORS as exc:
        raise UnsupportedPhoto(_BROKEN) from exc
    return image, kind


def _check_opened(image: Image.Image, kind: _Kind) -> None:
    """Runs on the parsed header, before any pixel memory is allocated."""
    if image.format not in kind.pillow_names:
        raise UnsupportedPhoto(_NOT_A_PHOTO)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise UnsupportedPhoto(_TOO_MANY_PIXELS, **_PIXEL_LIMIT)


# --- reading EXIF -----------------------------------------------------------------------------


def _read_exif(image: Image.Image) -> Image.Exif:
    """The EXIF block, or an empty one: broken metadata must not cost us a valid photo."""
    try:
        return image.getexif()
    except _DECODE_ERRORS:
        return Image.Exif()


def _sub_ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(ifd)
    except _DECODE_ERRORS:
        return {}


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _text(value: object, limit: int = 64) -> str | None:
    """A printable, trimmed EXIF string; devices pad with NULs and spaces."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    printable = "".join(char for char in value if char.isprintable()).strip()
    return printable[:limit] or None


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal in UTC. It is the shutter time; DateTime changes whenever an app edits
    the file, so it is deliberately not used as a fallback."""
    details = _sub_ifd(exif, ExifTags.IFD.Exif)
    # Some writers misplace the tag in IFD0; it still means the same thing there.
    raw = _text(details.get(ExifTags.Base.DateTimeOriginal)) or _text(
        exif.get(ExifTags.Base.DateTimeOriginal)
    )
    match = _EXIF_DATETIME.fullmatch(raw) if raw else None
    if match is None:
        return None  # absent, or a placeholder such as "0000:00:00 00:00:00"
    zone: tzinfo = _utc_offset(_text(details.get(ExifTags.Base.OffsetTimeOriginal))) or SHANGHAI
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
    return local.astimezone(UTC)


def _utc_offset(raw: str | None) -> timezone | None:
    """An EXIF OffsetTime such as "+08:00"; anything malformed counts as absent."""
    match = _EXIF_OFFSET.fullmatch(raw) if raw else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if int(minutes) >= 60 or offset > _MAX_UTC_OFFSET:
        return None
    return timezone(-offset if sign == "-" else offset)


def _gps(gps: Mapping[int, Any]) -> tuple[float | None, float | None]:
    """Latitude and longitude, both or neither: half a position is of no use on a map."""
    if (_text(gps.get(ExifTags.GPS.GPSStatus)) or "").upper() == "V":
        return None, None  # the receiver itself marked the fix as void
    lat = _coordinate(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "N", "S", 90.0
    )
    lon = _coordinate(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "E", "W", 180.0
    )
    # Many phones write 0/0 when they had no fix; nobody reports a pothole from the Gulf of Guinea.
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None, None
    return lat, lon


def _coordinate(
    value: object, ref: object, positive: str, negative: str, limit: float
) -> float | None:
    """Degrees[, minutes[, seconds]] plus a hemisphere letter, as signed decimal degrees.

    A missing or unknown hemisphere makes the value unusable: guessing N/E would put a wrong
    sign on the map instead of no position.
    """
    hemisphere = (_text(ref) or "").upper()
    parts = _reals(value)
    if hemisphere not in (positive, negative) or parts is None:
        return None
    degrees, minutes, seconds = [*parts, 0.0, 0.0][:3]
    if min(parts) < 0 or minutes >= 60 or seconds >= 60:
        return None
    magnitude = degrees + minutes / 60 + seconds / 3600
    if magnitude > limit:
        return None
    # 7 decimals is about 1 cm: enough for any GPS, and it hides float noise from the rationals.
    return round(-magnitude if hemisphere == negative else magnitude, 7)


def _reals(value: object) -> list[float] | None:
    """One to three finite numbers; EXIF rationals with a zero denominator become NaN and fail."""
    items = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(items) <= 3:
        return None
    result: list[float] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            return None
        number = float(item)
        if not math.isfinite(number):
            return None
        result.append(number)
    return result


# --- rendering clean copies -------------------------------------------------------------------


def _render(image: Image.Image, max_side: int, output_format: str) -> Image.Image:
    """Shrink, turn upright, convert to sRGB and return pixels without any metadata."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    orientation = _orientation(_read_exif(image))
    icc_profile = image.info.get("icc_profile")
    work = _working_mode(image)
    # The bounding box is square, so shrinking before rotating gives the same result cheaper.
    work.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if orientation in _TRANSPOSE:
        work = work.transpose(_TRANSPOSE[orientation])
    work = _output_mode(_to_srgb(work, icc_profile), output_format)
    # Encoders copy some keys from .info (PNG: icc_profile, transparency; JPEG: comment), so
    # emptying it is what guarantees that no metadata reaches the output.
    work.info = {}
    return work


def _working_mode(image: Image.Image) -> Image.Image:
    """A mode that resamples well: palette images only support nearest-neighbour scaling."""
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits; a plain convert() would clip to white.
        return image.convert("I").point(lambda value: value / 257).convert("L")
    if image.mode in ("RGB", "RGBA", "L", "LA", "CMYK") and "transparency" not in image.info:
        return image
    has_alpha = "A" in image.mode or "a" in image.mode or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _to_srgb(image: Image.Image, icc_profile: object) -> Image.Image:
    converted = _apply_profile(image, icc_profile)
    if converted is not None:
        return converted
    return image.convert("RGB") if image.mode == "CMYK" else image


def _apply_profile(image: Image.Image, icc_profile: object) -> Image.Image | None:
    """Pixels converted from the embedded profile to sRGB, or None if there is nothing usable
    (then the pixels are kept as they are, which is what a browser would show anyway)."""
    if not isinstance(icc_profile, bytes) or image.mode not in ("RGB", "RGBA", "CMYK"):
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        return ImageCms.profileToProfile(
            image, source, _SRGB, outputMode="RGBA" if image.mode == "RGBA" else "RGB"
        )
    except (ImageCms.PyCMSError, *_DECODE_ERRORS):
        return None


def _output_mode(image: Image.Image, output_format: str) -> Image.Image:
    if output_format == "JPEG" and image.mode not in ("RGB", "L"):
        return _flatten(image)
    if output_format == "WEBP" and image.mode in ("L", "LA"):
        return image.convert("RGBA" if image.mode == "LA" else "RGB")
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite onto white, as the photo would look on a white page."""
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")


def _encode(image: Image.Image, output: _Output) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=output.format, **output.options)
    return buffer.getvalue()


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"
