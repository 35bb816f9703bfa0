"""Tests for civicloop.lib.photos. Every image is generated here with Pillow (and pillow-heif)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin, TiffImagePlugin

from civicloop.lib import photos
from civicloop.lib.photos import (
    MAX_PIXELS,
    PhotoError,
    PhotoInfo,
    PhotoTooLarge,
    UnsupportedPhoto,
    inspect_photo,
    public_copy,
    thumbnail,
)

MB = 1024 * 1024
R = TiffImagePlugin.IFDRational
RED = (255, 0, 0)
BLUE = (0, 0, 255)

# Yiwu, 29°18'36" N 120°4'30" E
YIWU_LAT = (R(29, 1), R(18, 1), R(36, 1))
YIWU_LON = (R(120, 1), R(4, 1), R(3000, 100))

NOT_A_PHOTO = "不支持的文件类型，请上传 JPEG、PNG、WebP 或 HEIC 格式的照片"
BROKEN = "照片文件已损坏或不完整，请重新拍摄或上传"
TOO_MANY_PIXELS = "照片像素过多（上限 8000 万像素），请缩小后再上传"


# --- helpers that build real images -----------------------------------------------------------


def make_exif(
    *,
    orientation: int | None = None,
    taken: str | None = None,
    offset: str | None = None,
    gps: dict[int, object] | None = None,
    make: str | None = None,
    model: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if make is not None:
        exif[ExifTags.Base.Make] = make
    if model is not None:
        exif[ExifTags.Base.Model] = model
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        details[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    return exif


def yiwu_gps(**overrides: object) -> dict[int, object]:
    gps: dict[int, object] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: YIWU_LAT,
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: YIWU_LON,
    }
    for name, value in overrides.items():
        tag = ExifTags.GPS[name]
        if value is None:
            gps.pop(tag, None)
        else:
            gps[tag] = value
    return gps


def two_tone(size: tuple[int, int] = (100, 50), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: lets tests see which way the pixels were turned."""
    image = Image.new(mode, size, BLUE)
    image.paste(Image.new(mode, (size[0] // 2, size[1]), RED), (0, 0))
    return image


def noise(size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg(image: Image.Image | None = None, **options: object) -> bytes:
    return encode(image or two_tone(), "JPEG", quality=95, **options)


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG that claims width x height but holds almost no data: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_chunk_types(data: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        types.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def jpeg_markers(data: bytes) -> list[int]:
    """Marker bytes from SOI up to the start of scan (where all metadata segments live)."""
    markers, offset = [], 2
    while offset < len(data):
        assert data[offset] == 0xFF
        marker = data[offset + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
    return markers


def riff_chunk_types(data: bytes) -> list[bytes]:
    types, offset = [], 12
    while offset < len(data):
        kind = data[offset : offset + 4]
        (length,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        types.append(kind)
        offset += 8 + length + (length & 1)
    return types


def heic_encoder_available() -> bool:
    try:
        Image.new("RGB", (16, 16)).save(io.BytesIO(), format="HEIF")
    except (OSError, KeyError, ValueError, RuntimeError):
        return False
    return True


needs_heic_encoder = pytest.mark.skipif(
    not heic_encoder_available(),
    reason="pillow-heif here has no HEVC (x265) encoder, so no HEIC test image can be made",
)


def assert_no_metadata(image: Image.Image) -> None:
    exif = image.getexif()
    assert len(exif) == 0
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert exif.get_ifd(ExifTags.IFD.Exif) == {}
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"):
        assert key not in image.info


def is_close(pixel: object, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


# --- inspect_photo: metadata ------------------------------------------------------------------


def test_jpeg_with_exif_date_gps_and_device() -> None:
    exif = make_exif(
        taken="2024:05:01 10:20:30", gps=yiwu_gps(), make="HUAWEI\x00", model=" ALN-AL00 "
    )
    data = jpeg(exif=exif)

    info = inspect_photo(data, max_bytes=MB)

    assert info == PhotoInfo(
        content_type="image/jpeg",
        extension="jpg",
        width=100,
        height=50,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        taken_at=datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC),
        gps_lat=29.31,
        gps_lon=120.075,
        make="HUAWEI",
        model="ALN-AL00",
    )
    assert info.taken_at is not None and info.taken_at.utcoffset() == timedelta(0)


def test_photo_without_metadata() -> None:
    info = inspect_photo(jpeg(), max_bytes=MB)

    assert (info.taken_at, info.gps_lat, info.gps_lon, info.make, info.model) == (None,) * 5


@pytest.mark.parametrize(
    ("offset", "expected_utc"),
    [
        ("+09:00", datetime(2024, 5, 1, 1, 20, 30, tzinfo=UTC)),
        ("-03:00", datetime(2024, 5, 1, 13, 20, 30, tzinfo=UTC)),
        ("+08:00", datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)),
        # malformed offsets are ignored, so the time is read as Asia/Shanghai
        ("+25:00", datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)),
        ("08:00", datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)),
    ],
)
def test_offset_time_original(offset: str, expected_utc: datetime) -> None:
    data = jpeg(exif=make_exif(taken="2024:05:01 10:20:30", offset=offset))

    assert inspect_photo(data, max_bytes=MB).taken_at == expected_utc


def test_new_year_midnight_in_shanghai_is_previous_day_in_utc() -> None:
    data = jpeg(exif=make_exif(taken="2025:01:01 00:00:00"))

    assert inspect_photo(data, max_bytes=MB).taken_at == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "taken", ["0000:00:00 00:00:00", "    :  :     :  :  ", "2024:02:30 10:00:00", "yesterday"]
)
def test_placeholder_or_invalid_date_gives_none(taken: str) -> None:
    data = jpeg(exif=make_exif(taken=taken))

    assert inspect_photo(data, max_bytes=MB).taken_at is None


def test_southern_and_western_hemispheres_are_negative() -> None:
    gps = yiwu_gps(
        GPSLatitudeRef="S",
        GPSLatitude=(R(12, 1), R(30, 1), R(0, 1)),
        GPSLongitudeRef="W",
        GPSLongitude=(R(45, 1), R(15, 1), R(0, 1)),
    )
    info = inspect_photo(jpeg(exif=make_exif(gps=gps)), max_bytes=MB)

    assert (info.gps_lat, info.gps_lon) == (-12.5, -45.25)


def test_decimal_minutes_rationals() -> None:
    # Some phones write degrees and decimal minutes with seconds = 0/1.
    gps = yiwu_gps(GPSLatitude=(R(29, 1), R(186, 10), R(0, 1)))
    info = inspect_photo(jpeg(exif=make_exif(gps=gps)), max_bytes=MB)

    assert (info.gps_lat, info.gps_lon) == (29.31, 120.075)


@pytest.mark.parametrize(
    "gps",
    [
        pytest.param(yiwu_gps(GPSLatitude=(R(29, 1), R(18, 0), R(0, 1))), id="zero-denominator"),
        pytest.param(yiwu_gps(GPSLatitude=(R(91, 1), R(0, 1), R(0, 1))), id="latitude-over-90"),
        pytest.param(yiwu_gps(GPSLongitude=(R(181, 1), R(0, 1), R(0, 1))), id="longitude-over-180"),
        pytest.param(yiwu_gps(GPSLatitude=(R(29, 1), R(75, 1), R(0, 1))), id="minutes-over-59"),
        pytest.param(yiwu_gps(GPSLatitudeRef=None), id="missing-latitude-ref"),
        pytest.param(yiwu_gps(GPSLongitudeRef="X"), id="unknown-longitude-ref"),
        pytest.param(yiwu_gps(GPSLongitude=None), id="missing-longitude"),
        pytest.param(yiwu_gps(GPSStatus="V"), id="void-fix"),
        pytest.param(
            yiwu_gps(
                GPSLatitude=(R(0, 1), R(0, 1), R(0, 1)), GPSLongitude=(R(0, 1), R(0, 1), R(0, 1))
            ),
            id="null-island",
        ),
    ],
)
def test_invalid_gps_is_ignored(gps: dict[int, object]) -> None:
    info = inspect_photo(jpeg(exif=make_exif(gps=gps, taken="2024:05:01 10:20:30")), max_bytes=MB)

    assert (info.gps_lat, info.gps_lon) == (None, None)
    # the rest of the metadata still counts
    assert info.taken_at == datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)


def test_corrupt_exif_does_not_reject_the_photo() -> None:
    data = bytearray(jpeg(exif=make_exif(taken="2024:05:01 10:20:30", gps=yiwu_gps())))
    start = data.index(b"Exif\x00\x00") + 6
    data[start : start + 40] = b"\xab" * 40

    info = inspect_photo(bytes(data), max_bytes=MB)

    assert (info.width, info.height, info.taken_at, info.gps_lat) == (100, 50, None, None)


@pytest.mark.parametrize(
    ("orientation", "size"),
    [(1, (100, 50)), (2, (100, 50)), (3, (100, 50)), (4, (100, 50))]
    + [(value, (50, 100)) for value in (5, 6, 7, 8)],
)
def test_reported_size_follows_exif_orientation(orientation: int, size: tuple[int, int]) -> None:
    info = inspect_photo(jpeg(exif=make_exif(orientation=orientation)), max_bytes=MB)

    assert (info.width, info.height) == size


def test_mpo_from_multi_picture_cameras_is_a_jpeg() -> None:
    data = encode(two_tone(), "MPO", save_all=True, append_images=[Image.new("RGB", (100, 50))])
    assert reopen(data).format == "MPO"

    info = inspect_photo(data, max_bytes=MB)
    copy, content_type = public_copy(data)

    assert (info.content_type, info.extension, info.width, info.height) == (
        "image/jpeg",
        "jpg",
        100,
        50,
    )
    assert content_type == "image/jpeg"
    assert reopen(copy).format == "JPEG"


def test_png_is_recognised() -> None:
    # bytes, not Image.Exif: Pillow's PNG writer skips an Exif whose IFD0 is empty
    data = encode(two_tone(), "PNG", exif=make_exif(gps=yiwu_gps()).tobytes())

    info = inspect_photo(data, max_bytes=MB)

    assert (info.content_type, info.extension, info.width, info.height) == (
        "image/png",
        "png",
        100,
        50,
    )
    assert (info.gps_lat, info.gps_lon) == (29.31, 120.075)


def test_webp_is_recognised() -> None:
    data = encode(two_tone(), "WEBP", exif=make_exif(taken="2024:05:01 10:20:30"))

    info = inspect_photo(data, max_bytes=MB)

    assert (info.content_type, info.extension, info.width, info.height) == (
        "image/webp",
        "webp",
        100,
        50,
    )
    assert info.taken_at == datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)


def test_photo_info_is_frozen() -> None:
    info = inspect_photo(jpeg(), max_bytes=MB)

    with pytest.raises(dataclasses.FrozenInstanceError):
        info.width = 1  # type: ignore[misc]


# --- inspect_photo: rejections ----------------------------------------------------------------


def test_oversize_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = jpeg()

    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded an oversize upload")

    monkeypatch.setattr(photos.Image, "open", must_not_decode)

    with pytest.raises(PhotoTooLarge) as caught:
        inspect_photo(data, max_bytes=len(data) - 1)

    assert (caught.value.code, caught.value.status) == ("photo_too_large", 413)
    assert (caught.value.size, caught.value.max_bytes) == (len(data), len(data) - 1)
    assert isinstance(caught.value, PhotoError)


def test_exactly_max_bytes_is_accepted() -> None:
    data = jpeg()

    assert inspect_photo(data, max_bytes=len(data)).size == len(data)


def test_too_large_message() -> None:
    error = PhotoTooLarge(12_345_678, 10 * MB)

    assert error.message == "照片文件过大（11.8 MB），请上传不超过 10.0 MB 的照片"
    assert str(error) == error.message


def test_messages_can_be_translated_by_the_caller() -> None:
    english = {
        "照片文件过大（%(size)s），请上传不超过 %(limit)s 的照片": (
            "The photo is too large (%(size)s); the limit is %(limit)s"
        )
    }
    error = PhotoTooLarge(12_345_678, 10 * MB)
    assert error.localized(lambda text: english.get(text, text)) == (
        "The photo is too large (11.8 MB); the limit is 10.0 MB"
    )
    assert error.localized(lambda text: text) == error.message


def gif() -> bytes:
    return encode(two_tone(), "GIF")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", NOT_A_PHOTO, id="empty"),
        pytest.param("这不是照片，是一个改名为 .jpg 的文本文件".encode(), NOT_A_PHOTO, id="text"),
        pytest.param(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", NOT_A_PHOTO, id="pdf"),
        pytest.param(gif(), NOT_A_PHOTO, id="gif"),
        pytest.param(encode(two_tone(), "BMP"), NOT_A_PHOTO, id="bmp"),
        pytest.param(encode(two_tone(), "TIFF"), NOT_A_PHOTO, id="tiff"),
        pytest.param(
            b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64,
            NOT_A_PHOTO,
            id="avif",
        ),
        pytest.param(b"\xff\xd8\xff\xe0" + b"garbage" * 50, BROKEN, id="jpeg-magic-then-garbage"),
        pytest.param(b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8, BROKEN, id="webp-header-only"),
    ],
)
def test_non_photos_are_unsupported(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedPhoto) as caught:
        inspect_photo(data, max_bytes=MB)

    assert (caught.value.code, caught.value.status) == ("unsupported_media_type", 415)
    assert caught.value.message == message
    assert isinstance(caught.value, PhotoError)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_unsupported(fmt: str) -> None:
    data = encode(noise((400, 300)), fmt)

    with pytest.raises(UnsupportedPhoto) as caught:
        inspect_photo(data[: len(data) // 2], max_bytes=MB)

    assert caught.value.message == BROKEN


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(9000, 9000, id="81MP-over-our-limit"),
        pytest.param(30000, 30000, id="900MP-over-pillow-limit"),
        pytest.param(MAX_PIXELS + 1, 1, id="one-pixel-over"),
    ],
)
def test_decompression_bombs_are_unsupported(width: int, height: int) -> None:
    data = png_header_only(width, height)
    assert len(data) < 200

    with pytest.raises(UnsupportedPhoto) as caught:
        inspect_photo(data, max_bytes=MB)

    assert caught.value.message == TOO_MANY_PIXELS


def test_public_copy_and_thumbnail_revalidate() -> None:
    with pytest.raises(UnsupportedPhoto):
        public_copy(gif())
    with pytest.raises(UnsupportedPhoto):
        thumbnail(b"not a photo")
    with pytest.raises(UnsupportedPhoto):
        thumbnail(png_header_only(9000, 9000))


# --- public_copy ------------------------------------------------------------------------------


def test_public_jpeg_has_no_metadata_at_all() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = make_exif(taken="2024:05:01 10:20:30", gps=yiwu_gps(), make="HUAWEI", model="P60")
    data = jpeg(exif=exif, xmp=b"<x:xmpmeta>secret</x:xmpmeta>", comment=b"home", icc_profile=icc)
    original = reopen(data)
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo) != {}
    assert {"xmp", "comment", "icc_profile"} <= original.info.keys()

    copy, content_type = public_copy(data)

    assert content_type == "image/jpeg"
    # only SOI-following APP0 (JFIF), tables, frame header and scan: no APP1 (EXIF/XMP),
    # no APP2 (ICC), no APP13, no COM
    assert set(jpeg_markers(copy)) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDA}
    assert b"Exif" not in copy and b"xmpmeta" not in copy and b"home" not in copy
    image = reopen(copy)
    assert_no_metadata(image)
    assert (image.format, image.size, image.mode) == ("JPEG", (100, 50), "RGB")
    assert is_close(image.getpixel((10, 25)), RED) and is_close(image.getpixel((90, 25)), BLUE)


def test_public_copy_applies_orientation_to_pixels() -> None:
    # Orientation 6: the stored picture must be turned 90° clockwise to be seen upright,
    # so the stored left (red) half ends up on top.
    data = jpeg(exif=make_exif(orientation=6, gps=yiwu_gps()))

    image = reopen(public_copy(data)[0])

    assert image.size == (50, 100)
    assert is_close(image.getpixel((25, 10)), RED)
    assert is_close(image.getpixel((25, 90)), BLUE)
    assert_no_metadata(image)


def test_public_copy_is_downscaled_and_never_enlarged() -> None:
    big = jpeg(Image.new("RGB", (3000, 1000), "gray"))
    small = jpeg()

    assert reopen(public_copy(big)[0]).size == (2048, 683)
    assert reopen(public_copy(big, max_side=500)[0]).size == (500, 167)
    assert reopen(public_copy(small)[0]).size == (100, 50)


def test_public_png_stays_png_without_metadata_chunks() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    data = encode(two_tone(), "PNG", exif=make_exif(gps=yiwu_gps()).tobytes(), pnginfo=text)
    assert b"eXIf" in data and b"iTXt" in data and b"tEXt" in data

    copy, content_type = public_copy(data)

    assert content_type == "image/png"
    assert png_chunk_types(copy) == [b"IHDR", b"IDAT", b"IEND"]
    image = reopen(copy)
    assert_no_metadata(image)
    assert (image.format, image.size, image.mode) == ("PNG", (100, 50), "RGB")


def test_public_png_keeps_palette_transparency_as_alpha() -> None:
    source = Image.new("P", (40, 20), 0)
    source.putpalette([255, 0, 0, 0, 0, 255])
    source.paste(1, (20, 0, 40, 20))
    data = encode(source, "PNG", transparency=1)

    image = reopen(public_copy(data)[0])

    assert image.mode == "RGBA"
    assert image.getpixel((5, 10)) == (255, 0, 0, 255)
    pixel = image.getpixel((35, 10))
    assert isinstance(pixel, tuple) and pixel[3] == 0
    assert png_chunk_types(public_copy(data)[0]) == [b"IHDR", b"IDAT", b"IEND"]


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped() -> None:
    data = encode(Image.new("I;16", (10, 10), 128 * 257), "PNG")
    assert reopen(data).mode == "I;16"

    image = reopen(public_copy(data)[0])

    assert (image.mode, image.getpixel((5, 5))) == ("L", 128)


def test_public_webp_stays_webp_without_metadata_chunks() -> None:
    data = encode(
        two_tone(),
        "WEBP",
        exif=make_exif(gps=yiwu_gps()),
        xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    assert {b"EXIF", b"XMP ", b"ICCP"} <= set(riff_chunk_types(data))

    copy, content_type = public_copy(data)

    assert content_type == "image/webp"
    assert set(riff_chunk_types(copy)) & {b"EXIF", b"XMP ", b"ICCP"} == set()
    image = reopen(copy)
    assert_no_metadata(image)
    assert (image.format, image.size) == ("WEBP", (100, 50))


def test_broken_icc_profile_is_dropped_and_the_photo_still_published() -> None:
    data = jpeg(icc_profile=b"not an icc profile")
    assert reopen(data).info["icc_profile"] == b"not an icc profile"

    image = reopen(public_copy(data)[0])

    assert_no_metadata(image)
    assert is_close(image.getpixel((10, 25)), RED)


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = jpeg(Image.new("CMYK", (40, 20), (0, 255, 255, 0)))

    image = reopen(public_copy(data)[0])

    assert image.mode == "RGB"
    assert is_close(image.getpixel((20, 10)), RED)


# --- thumbnail --------------------------------------------------------------------------------


def test_thumbnail_is_a_stripped_jpeg_within_side() -> None:
    data = jpeg(two_tone((1000, 500)), exif=make_exif(orientation=8, gps=yiwu_gps()))

    thumb = thumbnail(data)

    image = reopen(thumb)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (160, 320))
    assert_no_metadata(image)
    assert set(jpeg_markers(thumb)) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDA}
    assert reopen(thumbnail(data, side=64)).size == (32, 64)


def test_thumbnail_flattens_transparency_onto_white() -> None:
    source = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    source.paste(Image.new("RGBA", (200, 200), (*RED, 255)), (0, 0))

    image = reopen(thumbnail(encode(source, "PNG")))

    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (320, 160))
    assert is_close(image.getpixel((40, 80)), RED)
    assert is_close(image.getpixel((280, 80)), (255, 255, 255))


# --- HEIC -------------------------------------------------------------------------------------


@needs_heic_encoder
def test_heic_is_recognised_with_metadata() -> None:
    exif = make_exif(taken="2024:05:01 10:20:30", offset="+08:00", gps=yiwu_gps(), make="Apple")
    data = encode(two_tone(), "HEIF", exif=exif.tobytes(), quality=90)
    assert data[4:12] == b"ftypheic"

    info = inspect_photo(data, max_bytes=MB)

    assert (info.content_type, info.extension, info.width, info.height) == (
        "image/heic",
        "heic",
        100,
        50,
    )
    assert info.taken_at == datetime(2024, 5, 1, 2, 20, 30, tzinfo=UTC)
    assert (info.gps_lat, info.gps_lon, info.make) == (29.31, 120.075, "Apple")


@needs_heic_encoder
def test_heic_orientation_is_applied_once() -> None:
    # pillow-heif turns EXIF orientation into HEIF transforms, and libheif applies them on
    # decode: the picture must not be turned a second time.
    data = encode(two_tone(), "HEIF", exif=make_exif(orientation=6).tobytes(), quality=90)

    info = inspect_photo(data, max_bytes=MB)
    copy, content_type = public_copy(data)

    assert (info.width, info.height) == (50, 100)
    image = reopen(copy)
    assert (content_type, image.format, image.size) == ("image/jpeg", "JPEG", (50, 100))
    assert is_close(image.getpixel((25, 10)), RED)
    assert is_close(image.getpixel((25, 90)), BLUE)


@needs_heic_encoder
def test_public_copy_of_heic_is_a_stripped_jpeg() -> None:
    exif = make_exif(taken="2024:05:01 10:20:30", gps=yiwu_gps(), make="Apple")
    data = encode(two_tone(), "HEIF", exif=exif.tobytes(), quality=90)

    copy, content_type = public_copy(data)

    assert content_type == "image/jpeg"
    assert set(jpeg_markers(copy)) <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDA}
    image = reopen(copy)
    assert_no_metadata(image)
    assert (image.format, image.size) == ("JPEG", (100, 50))
    assert reopen(thumbnail(data)).format == "JPEG"


@needs_heic_encoder
def test_truncated_heic_is_unsupported() -> None:
    data = encode(noise((256, 256)), "HEIF", quality=90)

    with pytest.raises(UnsupportedPhoto) as caught:
        inspect_photo(data[: len(data) // 2], max_bytes=MB)

    assert caught.value.message == BROKEN
