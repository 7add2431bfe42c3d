"""images.py: preparing start/end images, previews, URL inputs, and bad inputs.

Every file is made here (nothing downloaded) and no test touches the network: the fetch
refusals happen before any connection, and the fetch successes go through a MockTransport.
"""

from __future__ import annotations

import http.server
import io
import resource
import socket
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageDraw, ImageFile

from playground.media import images, urls
from playground.media.images import ImageError, PreparedImage
from playground.model import seedance

RED = (230, 20, 20)
BLUE = (20, 40, 200)


# --------------------------------------------------------------------------- makers


def photo(size: tuple[int, int] = (640, 480), color: tuple[int, int, int] = BLUE) -> Image.Image:
    """A plain image with a little structure (so encoders have something to code)."""
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(240, 200, 40))
    return image


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int, bit_depth: int = 8, color_type: int = 2) -> bytes:
    """A PNG whose header claims a size and whose pixel data is a few bytes: a lying file."""

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def bilevel_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG of any size, streamed: megapixels on disk in kilobytes."""

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    rows_per_block = max(1, 4_000_000 // len(row))
    parts = []
    for start in range(0, height, rows_per_block):
        parts.append(packer.compress(row * min(rows_per_block, height - start)))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is rewritten to claim another size."""
    data = bytearray(encode(photo((320, 320)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(photo((320, 320)).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    descriptor = data.index(b",")  # image descriptor: x, y, width, height
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def with_orientation(image: Image.Image, orientation: int, **extra: Any) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    for tag, value in extra.items():
        exif[int(tag)] = value
    return encode(image, "JPEG", exif=exif, quality=95)


def marked(size: tuple[int, int]) -> Image.Image:
    """Blue with a red block in the stored top-left corner."""
    image = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, 59, 59), fill=RED)
    return image


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (320, 320), c) for c in (RED, (20, 200, 20), BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def gradient_16bit(size: tuple[int, int] = (512, 320)) -> Image.Image:
    row = np.linspace(0, 65535, size[0]).astype(np.uint16)
    return Image.fromarray(np.tile(row, (size[1], 1)))  # mode I;16


def transparent_palette() -> bytes:
    image = Image.new("P", (400, 400), 0)
    image.putpalette([0, 0, 0, 230, 20, 20] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(image).rectangle((0, 0, 199, 399), fill=1)  # left half red, right index 0
    return encode(image, "PNG", transparency=0)


def decoded(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    assert image.format == "JPEG"
    image.load()
    return image


def assert_within_limits(
    prepared: PreparedImage, max_side: int = images.MAX_SIDE_PX
) -> Image.Image:
    image = decoded(prepared)
    assert image.size == (prepared.width, prepared.height)
    assert image.mode == "RGB"
    assert len(prepared.data) <= images.MAX_UPLOAD_BYTES
    assert min(image.size) >= images.MIN_SIDE_PX
    # the long side is capped, unless the short side already stands at the minimum
    assert max(image.size) <= max_side or min(image.size) <= images.MIN_SIDE_PX + 1
    assert max(image.size) <= images.MAX_OUTPUT_SIDE_PX
    assert prepared.mime == "image/jpeg" and prepared.filename.endswith(".jpg")
    return image


def assert_clean(message: str) -> None:
    """A sentence for a person: no traceback, no code location, one line."""
    assert message
    assert "Traceback" not in message and 'File "' not in message
    assert "\n" not in message and len(message) < 300


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.convert("RGB").getpixel(xy))  # type: ignore[arg-type]


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- bad inputs

Maker = Callable[[Path], Any]

BAD_INPUTS: list[tuple[str, Maker, str]] = [
    ("empty file", lambda t: write(t, "empty.jpg", b""), "empty file (0 bytes)"),
    ("zero bytes", lambda t: b"", "empty file (0 bytes)"),
    ("blank path", lambda t: "  ", "no image was given"),
    ("missing file", lambda t: t / "gone.png", "“gone.png” no longer exists"),
    ("a folder", lambda t: t, "is a folder"),
    (
        "truncated JPEG",
        lambda t: write(t, "cut.jpg", encode(photo(), "JPEG")[:2000]),
        "the file is incomplete",
    ),
    (
        "truncated PNG",
        lambda t: write(t, "cut.png", encode(photo(), "PNG")[:300]),
        "the file is incomplete",
    ),
    (
        "truncated WebP",
        lambda t: write(t, "cut.webp", encode(photo(), "WEBP")[:40]),
        "the file is damaged",
    ),
    (
        "header-only GIF",
        lambda t: write(t, "cut.gif", encode(photo().convert("P"), "GIF")[:13]),
        "looks like a GIF image but could not be read",
    ),
    (
        "header-only BMP",
        lambda t: write(t, "cut.bmp", encode(photo(), "BMP")[:10]),
        "looks like a BMP image but could not be read",
    ),
    (
        "truncated TIFF",
        lambda t: write(t, "cut.tif", encode(photo(), "TIFF")[:120]),
        "could not be",
    ),
    (
        "text renamed .png",
        lambda t: write(t, "notes.png", b"Shopping list:\n- eggs\n- milk\n"),
        "it is a text file, not an image",
    ),
    (
        "JSON renamed .jpg",
        lambda t: write(t, "data.jpg", b'{"image": "not really", "size": [1, 2]}'),
        "it is a text file",
    ),
    (
        "SVG",
        lambda t: write(t, "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        "it is an SVG (a vector drawing)",
    ),
    (
        "SVG with XML prolog, renamed .png",
        lambda t: write(
            t, "logo.png", b'<?xml version="1.0"?>\n<svg width="400" height="400"></svg>'
        ),
        "it is an SVG",
    ),
    (
        "PDF",
        lambda t: write(t, "doc.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
        "a PDF document",
    ),
    ("Photoshop", lambda t: write(t, "art.psd", b"8BPS\x00\x01" + b"\x00" * 40), "Photoshop"),
    ("EPS", lambda t: write(t, "art.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n"), "PostScript/EPS"),
    (
        "MP4 video",
        lambda t: write(t, "clip.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"),
        "it is a video (MP4/MOV)",
    ),
    (
        "damaged HEIC",
        lambda t: write(t, "broken.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" * 4),
        "HEIC",
    ),
    ("ZIP archive", lambda t: write(t, "a.zip", b"PK\x03\x04" + b"\x00" * 60), "ZIP archive"),
    (
        "JPEG 2000",
        lambda t: write(t, "a.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 40),
        "JPEG 2000",
    ),
    ("icon", lambda t: write(t, "a.ico", encode(photo((64, 64)), "ICO")), "an icon (ICO)"),
    (
        "random binary",
        lambda t: write(t, "noise.jpg", bytes(range(7, 256)) * 4),
        "not an image format this playground reads",
    ),
    (
        "1x1 PNG",
        lambda t: encode(Image.new("RGB", (1, 1)), "PNG"),
        "it is 1×1 px, too small even to upscale",
    ),
    ("299x2000", lambda t: encode(photo((299, 2000)), "PNG"), "it is 299×2000 px; Seedance needs"),
    ("2000x299", lambda t: encode(photo((2000, 299)), "JPEG"), "it is 2000×299 px"),
    ("299x299 rotated EXIF", lambda t: with_orientation(photo((299, 450)), 6), "it is 299×450 px"),
    (
        "20000x20000 bomb PNG",
        lambda t: write(t, "bomb.png", bilevel_png(20_000, 20_000)),
        "400 megapixels, too large to process safely",
    ),
    (
        "80 MP PNG (under Pillow's own limit)",
        lambda t: write(t, "big.png", bilevel_png(10_000, 8_000)),
        "10000×8000 px (80 megapixels), too large to process safely",
    ),
    (
        "PNG header claiming 9000x9000, no pixels",
        lambda t: png_header_only(9000, 9000),
        "9000×9000 px (81 megapixels), too large",
    ),
    ("GIF claiming 65535x65535", lambda t: gif_claiming(65535, 65535), "too large to process"),
    ("JPEG claiming 60000x60000", lambda t: jpeg_claiming(60_000, 60_000), "too large"),
    (
        "300x20000 strip",
        lambda t: png_header_only(300, 20_000),
        "it is 300×20000 px, a strip rather than a frame",
    ),
    (
        "PNG text chunk bomb",
        lambda t: write(t, "text.png", png_with_text_bomb()),
        "it could not be decoded: the file is damaged",
    ),
    ("file:// URL", lambda t: "file:///etc/passwd", "file:// addresses are not accepted"),
    ("javascript: URL", lambda t: "javascript:alert(1)", "a javascript: address is a script"),
    ("data: URI", lambda t: "data:image/png;base64,iVBORw0KGgo=", "data: URIs are not accepted"),
    ("ftp URL", lambda t: "ftp://example.com/a.jpg", "only http:// and https://"),
    ("URL to 127.0.0.1", lambda t: "http://127.0.0.1:8080/a.png", "a loopback address"),
    ("public URL", lambda t: "https://example.com/a.jpg", "it is a web address"),
]


def png_with_text_bomb() -> bytes:
    """A valid PNG plus a compressed text chunk that inflates past Pillow's 1 MB text limit."""
    data = encode(photo((320, 320)), "PNG")
    body = b"Comment\x00\x00" + zlib.compress(b"A" * 20_000_000, 9)
    return data[:33] + png_chunk(b"zTXt", body) + data[33:]  # right after IHDR


@pytest.mark.filterwarnings("ignore:Truncated File Read:UserWarning")  # Pillow, on bad TIFFs
@pytest.mark.parametrize(
    ("make", "expected"), [(m, e) for _, m, e in BAD_INPUTS], ids=[n for n, _, _ in BAD_INPUTS]
)
def test_bad_input_is_refused_with_a_specific_message(
    tmp_path: Path, make: Maker, expected: str
) -> None:
    source = make(tmp_path)
    with pytest.raises(ImageError) as info:
        images.prepare_image(source)
    message = str(info.value)
    assert expected in message
    assert_clean(message)


def test_bomb_is_refused_fast_and_without_decoding(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.png", bilevel_png(20_000, 20_000))
    assert path.stat().st_size < 200_000  # KBs on disk, 400 MP (>= 400 MB) decoded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for _ in range(5):
        with pytest.raises(ImageError, match="too large to process safely"):
            images.prepare_image(path)
        with pytest.raises(ImageError, match="too large to process safely"):
            images.preview_aspect(path, "16:9", "crop")
    assert time.perf_counter() - started < 2.0
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 100_000


def test_an_oversized_png_is_refused_and_sized_without_decoding_a_pixel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 63 MP: over our 50 MP limit, under Pillow's own refusal; 189 MB if decoded
    data = png_header_only(9_000, 7_000)
    loads: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(im: ImageFile.ImageFile) -> Any:
        loads.append(f"{im.format} {im.size}")
        return real_load(im)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(ImageError, match="too large to process safely"):
        images.prepare_image(data)
    assert images.image_size(encode(photo((640, 480)), "PNG")) == (640, 480)
    assert loads == []


def test_a_huge_jpeg_is_judged_by_its_scaled_decode_not_refused_as_a_bomb() -> None:
    # 108 MP (a 108 MP phone's full-resolution mode, over Pillow's 89 MP warning) decodes
    # at 1/4 scale for 720p, 6.75 MP: allowed, with no DecompressionBombWarning escaping.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        prepared = images.prepare_image(jpeg_claiming(12_000, 9_000), resolution="720p")
    assert prepared.source_size == (12_000, 9_000)
    assert prepared.size == (1664, 1248)


def test_a_file_over_the_input_limit_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "MAX_INPUT_BYTES", 10_000)
    path = write(tmp_path, "big.jpg", b"\xff\xd8\xff" + b"\x00" * 2_000_000)
    with pytest.raises(ImageError, match=r"the file is 2 MB; files over 0 MB are not read"):
        images.prepare_image(path)


# --------------------------------------------------------------------------- good inputs


def heic() -> bytes:
    pytest.importorskip("pillow_heif")
    images._open_formats()  # registers the HEIF opener with Pillow
    return encode(photo((400, 320), RED), "HEIF")


GOOD_INPUTS: list[tuple[str, Callable[[], bytes], str]] = [
    ("JPEG", lambda: encode(photo(color=RED), "JPEG"), "JPEG"),
    ("progressive JPEG", lambda: encode(photo(color=RED), "JPEG", progressive=True), "JPEG"),
    ("greyscale JPEG", lambda: encode(photo(color=RED).convert("L"), "JPEG"), "JPEG"),
    ("PNG", lambda: encode(photo(color=RED), "PNG"), "PNG"),
    ("WebP", lambda: encode(photo(color=RED), "WEBP"), "WEBP"),
    ("BMP", lambda: encode(photo(color=RED), "BMP"), "BMP"),
    ("TIFF", lambda: encode(photo(color=RED), "TIFF"), "TIFF"),
    ("TIFF LZW", lambda: encode(photo(color=RED), "TIFF", compression="tiff_lzw"), "TIFF"),
    ("AVIF", lambda: encode(photo(color=RED), "AVIF"), "AVIF"),
    ("HEIC", heic, "HEIF"),
    ("1-bit PNG", lambda: encode(photo(color=RED).convert("1"), "PNG"), "PNG"),
    ("palette PNG", lambda: encode(photo(color=RED).convert("P"), "PNG"), "PNG"),
    ("CMYK JPEG", lambda: encode(photo(color=RED).convert("CMYK"), "JPEG"), "JPEG"),
    ("CMYK TIFF", lambda: encode(photo(color=RED).convert("CMYK"), "TIFF"), "TIFF"),
    ("16-bit PNG", lambda: encode(gradient_16bit(), "PNG"), "PNG"),
    ("16-bit TIFF", lambda: encode(gradient_16bit(), "TIFF"), "TIFF"),
]


@pytest.mark.parametrize(
    ("make", "fmt"), [(m, f) for _, m, f in GOOD_INPUTS], ids=[n for n, _, _ in GOOD_INPUTS]
)
def test_formats_people_have_become_a_jpeg_within_limits(make: Callable[[], bytes], fmt: str):
    prepared = images.prepare_image(make())
    assert prepared.source_format == fmt
    assert not prepared.upscaled
    assert_within_limits(prepared)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "AVIF"])
def test_colours_survive(fmt: str) -> None:
    image = decoded(images.prepare_image(encode(photo(color=RED), fmt)))
    assert close(pixel(image, (600, 400)), RED, 12)


def test_cmyk_is_shown_in_its_colours() -> None:
    image = decoded(
        images.prepare_image(encode(Image.new("CMYK", (400, 400), (0, 255, 255, 0)), "JPEG"))
    )
    assert close(pixel(image, (200, 200)), (255, 0, 0), 12)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_greyscale_is_scaled_to_8_bit_not_clipped(fmt: str) -> None:
    image = decoded(images.prepare_image(encode(gradient_16bit(), fmt))).convert("L")
    row = np.asarray(image, dtype=float)[image.height // 2]
    assert row[:10].mean() < 8  # black stays black
    assert row[-10:].mean() > 247  # white stays white
    assert abs(row[len(row) // 2] - 128) < 8  # mid-grey stays mid-grey (clipping gives 255)
    assert np.all(np.diff(row[5:-5]) > -6)  # a ramp, not a cliff


def test_32_bit_integer_and_float_images_are_scaled() -> None:
    values = np.tile(np.linspace(0, 65535, 400), (320, 1))
    as_int = decoded(images.prepare_image(encode(Image.fromarray(values.astype(np.int32)), "TIFF")))
    as_float = decoded(
        images.prepare_image(encode(Image.fromarray((values / 65535).astype(np.float32)), "TIFF"))
    )
    for image in (as_int, as_float):
        grey = np.asarray(image.convert("L"), dtype=float)[160]
        assert grey[:5].mean() < 8 and grey[-5:].mean() > 247
        assert abs(grey[200] - 128) < 8


def test_transparency_becomes_white_not_black() -> None:
    rgba = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((0, 0, 199, 399), fill=(*RED, 255))
    for data in (encode(rgba, "PNG"), encode(rgba, "WEBP", lossless=True), transparent_palette()):
        image = decoded(images.prepare_image(data))
        assert close(pixel(image, (100, 200)), RED, 12)
        assert close(pixel(image, (300, 200)), (255, 255, 255), 3)


def test_greyscale_with_alpha_becomes_white_too() -> None:
    la = Image.new("LA", (400, 400), (0, 0))
    ImageDraw.Draw(la).rectangle((0, 0, 199, 399), fill=(40, 255))
    image = decoded(images.prepare_image(encode(la, "PNG")))
    assert close(pixel(image, (100, 200)), (40, 40, 40), 6)
    assert close(pixel(image, (300, 200)), (255, 255, 255), 3)


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile like sRGB but with the red and green primaries swapped: what it
    calls red is sRGB green, so only a colour-managed conversion shows green."""
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", icc[128:132])
    entries = {}
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
        entries[sig] = (i, offset, size)
    (ir, offset_r, size_r), (ig, offset_g, size_g) = entries[b"rXYZ"], entries[b"gXYZ"]
    struct.pack_into(">4sII", icc, 132 + 12 * ir, b"rXYZ", offset_g, size_g)
    struct.pack_into(">4sII", icc, 132 + 12 * ig, b"gXYZ", offset_r, size_r)
    return bytes(icc).replace(b"sRGB", b"swap").replace("sRGB".encode("utf-16-be"), b"\0s\0w\0a\0p")


def test_colour_profile_is_applied_to_the_pixels() -> None:
    red = Image.new("RGB", (400, 400), (255, 0, 0))
    image = decoded(
        images.prepare_image(encode(red, "JPEG", icc_profile=swapped_primaries_profile()))
    )
    assert close(pixel(image, (200, 200)), (0, 255, 0), 12)
    assert "icc_profile" not in image.info  # sent as plain sRGB


@pytest.mark.parametrize(
    "profile",
    [ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(), b"not a profile" * 20],
    ids=["sRGB", "garbage"],
)
def test_srgb_or_broken_profiles_leave_colours_alone(profile: bytes) -> None:
    image = decoded(images.prepare_image(encode(photo(color=RED), "JPEG", icc_profile=profile)))
    assert close(pixel(image, (600, 400)), RED, 12)


def test_animated_gif_uses_its_first_frame() -> None:
    image = decoded(images.prepare_image(animated_gif()))
    assert close(pixel(image, (160, 160)), RED, 30)


def test_exif_orientation_6_is_applied() -> None:
    # Stored 600×400 with a red block top-left; orientation 6 = "rotate 90° clockwise to view"
    prepared = images.prepare_image(with_orientation(marked((600, 400)), 6))
    image = decoded(prepared)
    assert image.size == (400, 600)  # width and height swapped
    assert prepared.source_size == (400, 600)
    assert close(pixel(image, (400 - 15, 15)), RED)  # the block is now top-right
    assert close(pixel(image, (15, 15)), BLUE)
    assert close(pixel(image, (15, 600 - 15)), BLUE)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_orientation_of_heic_and_avif(fmt: str) -> None:
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif")
        images._open_formats()
    exif = Image.Exif()
    exif[0x0112] = 6
    image = decoded(images.prepare_image(encode(marked((600, 400)), fmt, exif=exif.tobytes())))
    assert image.size == (400, 600)
    assert close(pixel(image, (385, 15)), RED) and close(pixel(image, (15, 15)), BLUE)


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [(3, (600, 400), (585, 385)), (8, (400, 600), (15, 585)), (2, (600, 400), (585, 15))],
)
def test_other_exif_orientations(
    orientation: int, size: tuple[int, int], red_at: tuple[int, int]
) -> None:
    image = decoded(images.prepare_image(with_orientation(marked((600, 400)), orientation)))
    assert image.size == size
    assert close(pixel(image, red_at), RED)


def test_huge_exif_is_read_and_not_sent() -> None:
    data = with_orientation(marked((600, 400)), 3, **{"270": "x" * 60_000})  # ImageDescription
    assert len(data) > 60_000
    prepared = images.prepare_image(data)
    image = decoded(prepared)
    assert close(pixel(image, (585, 385)), RED)  # rotated 180°
    assert not image.getexif()  # metadata (GPS...) never leaves the machine
    assert len(prepared.data) < 20_000


def test_large_photo_is_downscaled_per_resolution() -> None:
    data = encode(photo((4032, 3024)), "JPEG", quality=90)
    for resolution, expected in (("480p", (1152, 864)), ("720p", (1664, 1248))):
        prepared = images.prepare_image(data, resolution=resolution)
        assert prepared.size == expected
        assert prepared.source_size == (4032, 3024)
        assert_within_limits(prepared, images.max_side_for(resolution))
    prepared = images.prepare_image(data, max_side=1000)
    assert prepared.size == (1000, 750)


def test_large_png_is_downscaled_too() -> None:
    prepared = images.prepare_image(encode(photo((3000, 2000)), "PNG"), resolution="480p")
    assert prepared.size == (1152, 768)


def grain(size: tuple[int, int], sigma: float, seed: int = 3) -> Image.Image:
    """Mid-grey with Gaussian noise: the hardest thing to compress."""
    rng = np.random.default_rng(seed)
    values = rng.normal(128, sigma, (size[1], size[0], 3))
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))


def test_banded_resize_matches_one_whole_image_resize() -> None:
    image = grain((2600, 1700), 40)  # 4.4 MP: over the banding threshold
    assert image.width * image.height >= images.BANDED_RESIZE_PIXELS
    for size in ((1664, 1088), (1001, 653), (300, 197)):
        whole = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        banded = images._resize(image, size)
        assert banded.size == size
        # no seam: at most float rounding (±1 level) on a few pixels anywhere
        diff = np.abs(np.asarray(banded, dtype=int) - np.asarray(whole, dtype=int))
        assert diff.max() <= 1, size
        assert (diff > 0).mean() < 0.001, size


def test_a_big_image_resized_to_a_strip_a_few_rows_high_works() -> None:
    image = grain((2600, 1700), 40)
    for size in ((1600, 1), (1600, 2), (1600, 63)):
        assert images._resize(image, size).size == size


def test_the_best_quality_within_the_upload_budget_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = grain((800, 600), 12)
    sizes = {q: len(images._jpeg(image, q)) for q in (98, 95, 90, 85)}
    assert sizes[98] > sizes[95] > sizes[90] > sizes[85]
    # a budget between q95's and q98's size: q95 is chosen, not the first or the worst
    monkeypatch.setattr(images, "UPLOAD_BUDGET_BYTES", (sizes[98] + sizes[95]) // 2)
    assert len(images.prepare_image(encode(image, "PNG")).data) == sizes[95]
    # over budget even at q90, but within the API's limit: q90 is sent, no further loss
    monkeypatch.setattr(images, "UPLOAD_BUDGET_BYTES", sizes[85])
    assert len(images.prepare_image(encode(image, "PNG")).data) == sizes[90]
    # over the API's limit at q90: quality gives way (q85), still at full size
    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", sizes[85])
    prepared = images.prepare_image(encode(image, "PNG"))
    assert len(prepared.data) == sizes[85]
    assert prepared.size == (800, 600)


def test_downscaling_never_goes_below_the_minimum_side() -> None:
    prepared = images.prepare_image(encode(photo((400, 4000)), "PNG"), resolution="480p")
    assert prepared.size == (300, 3000)


def test_small_image_is_upscaled_only_when_asked_and_says_so() -> None:
    data = encode(photo((200, 250)), "PNG")
    with pytest.raises(ImageError, match="200×250 px; Seedance needs at least 300×300"):
        images.prepare_image(data)
    prepared = images.prepare_image(data, upscale=True)
    assert prepared.upscaled
    assert prepared.size == (300, 375)
    assert_within_limits(prepared)
    assert not images.prepare_image(encode(photo((640, 480)), "PNG"), upscale=True).upscaled


def test_upscaling_has_a_limit() -> None:
    with pytest.raises(ImageError, match="too small even to upscale"):
        images.prepare_image(encode(photo((60, 60)), "PNG"), upscale=True)


def test_max_side_per_resolution() -> None:
    assert images.max_side_for("480p") == 1152
    assert images.max_side_for("720p") == 1664
    assert images.max_side_for("1080p") == 2560
    for resolution, table in seedance.OUTPUT_SIZES.items():
        side = images.max_side_for(resolution)
        # a 4:3 photo's short side covers 16:9 or 9:16 cut across its orientation...
        assert side * 3 / 4 >= max(table["16:9"])
        # ...its long side the widest framing (21:9), and nothing is wildly oversized
        assert max(max(size) for size in table.values()) <= side <= 1.5 * max(table["16:9"])
    with pytest.raises(ValueError, match="unknown resolution"):
        images.max_side_for("8k")


def test_file_name_is_kept_in_safe_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "my photo (1).PNG", encode(photo(), "PNG"))
    assert images.prepare_image(path).filename == "my_photo_1.jpg"
    assert images.prepare_image(encode(photo(), "PNG")).filename == "image.jpg"


def test_image_size_is_upright_and_reads_only_the_header() -> None:
    assert images.image_size(with_orientation(marked((600, 400)), 6)) == (400, 600)
    assert images.image_size(png_header_only(9000, 9000)) == (9000, 9000)


# --------------------------------------------------------------------------- aspect ratios


def test_aspect_mismatch_note() -> None:
    assert images.aspect_mismatch_note((1920, 1080), (1280, 720)) is None
    assert images.aspect_mismatch_note((1920, 1080), (1920, 1050)) is None  # 2.9 %: same
    note = images.aspect_mismatch_note((1920, 1080), (800, 600))
    assert note == (
        "The end image is 4:3 but the start is 16:9; "
        "Seedance will crop or stretch it to the start’s framing."
    )
    assert "1.85:1" in (images.aspect_mismatch_note((1600, 1200), (1850, 1000)) or "")
    assert "3:4" in (images.aspect_mismatch_note((1000, 1000), (3000, 4000)) or "")


def test_ratio_differs() -> None:
    assert not images.ratio_differs((4032, 3024), "4:3")
    assert images.ratio_differs((4032, 3024), "16:9")
    assert not images.ratio_differs((1000, 1000), (1020, 1000))
    assert images.ratio_differs((1000, 1000), (1040, 1000))


def banded(size: tuple[int, int] = (1600, 900)) -> bytes:
    """Blue with red bands on the left and right eighths: what a crop to 1:1 cuts."""
    image = Image.new("RGB", size, BLUE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 8, size[1]), fill=RED)
    draw.rectangle((size[0] - size[0] // 8, 0, size[0], size[1]), fill=RED)
    return encode(image, "PNG")


def test_preview_crop_fills_the_frame_and_cuts_the_sides() -> None:
    preview = images.preview_aspect(banded(), "1:1", "crop")
    assert preview.size == (640, 640) and preview.mode == "RGB"
    assert close(pixel(preview, (3, 320)), BLUE) and close(pixel(preview, (636, 320)), BLUE)


def test_preview_fit_shows_everything_with_neutral_bars() -> None:
    preview = images.preview_aspect(banded(), "9:16", "fit")
    assert preview.size == (360, 640)
    assert close(pixel(preview, (180, 5)), images.PREVIEW_BACKGROUND, 2)  # bar above
    assert close(pixel(preview, (180, 635)), images.PREVIEW_BACKGROUND, 2)  # bar below
    assert close(pixel(preview, (3, 320)), RED)  # the side bands are all there
    assert close(pixel(preview, (356, 320)), RED)


@pytest.mark.parametrize("unset", [None, "", "auto"])
def test_preview_without_a_ratio_is_the_image(unset: str | None) -> None:
    preview = images.preview_aspect(banded(), unset, "crop")
    assert preview.size == (640, 360)


def test_preview_is_upright_and_validates_its_arguments() -> None:
    preview = images.preview_aspect(with_orientation(marked((600, 400)), 6), None, "fit")
    assert preview.size == (400, 600)  # never enlarged
    assert close(pixel(preview, (390, 10)), RED)
    with pytest.raises(ValueError, match="mode"):
        images.preview_aspect(banded(), "1:1", "stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown aspect ratio"):
        images.preview_aspect(banded(), "2:1", "crop")
    with pytest.raises(ImageError, match="text file"):
        images.preview_aspect(b"hello there, not an image", "1:1", "crop")


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/a.jpg", True),
        ("  HTTP://example.com/a.jpg ", True),
        ("javascript:alert(1)", True),
        ("file:///etc/passwd", True),
        ("data:image/png;base64,AAAA", True),
        ("/tmp/gradio/abc/photo.jpg", False),
        ("photo.jpg", False),
        ("C:\\Users\\me\\photo.jpg", False),
        ("", False),
    ],
)
def test_is_url(text: str, expected: bool) -> None:
    assert urls.is_url(text) is expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.jpg",
        "http://cdn.example.org:8080/path/img.png?sig=abc&x=1",
        "https://bücher.example/bild.jpg",
        "https://8.8.8.8/a.png",
    ],
)
def test_validate_url_passes_public_http_addresses_through(url: str) -> None:
    assert urls.validate_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "the image address is empty"),
        ("file:///etc/passwd", "file:// addresses are not accepted"),
        ("FILE://host/share/a.jpg", "file:// addresses are not accepted"),
        ("javascript:alert(document.cookie)", "a javascript: address is a script"),
        ("data:image/png;base64,iVBORw0KGgo=", "data: URIs are not accepted"),
        ("ftp://example.com/a.jpg", "only http:// and https://"),
        ("example.com/a.jpg", "only http:// and https://"),
        ("https://", "no host name"),
        ("http://exa mple.com/a.jpg", "spaces or control characters"),
        ("http://example.com:99999/a.jpg", "not a valid web address"),
        ("https://user:secret@example.com/a.jpg", "a user name or password"),
        ("http://127.0.0.1/a.png", "a loopback address (127.0.0.1)"),
        ("http://localhost:7860/a.png", "a loopback address (localhost)"),
        ("http://[::1]/a.png", "a loopback address (::1)"),
        ("http://10.0.0.8/a.png", "a private address"),
        ("http://192.168.1.20/a.png", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://0.0.0.0/", "address (0.0.0.0)"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("https://example.com/" + "a" * 3000, "over 2048 characters"),
    ],
)
def test_validate_url_refuses(url: str, expected: str) -> None:
    with pytest.raises(ImageError) as info:
        urls.validate_url(url)
    assert expected in str(info.value)
    assert_clean(str(info.value))


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a connection was attempted: {request.url}")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/a.png", "loopback"),
        ("http://localhost/a.png", "loopback"),
        ("http://10.1.2.3/a.png", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/a.png", "loopback"),
        ("file:///etc/passwd", "file:// addresses are not accepted"),
        ("javascript:alert(1)", "script"),
    ],
)
def test_fetch_refuses_before_connecting(url: str, expected: str) -> None:
    with pytest.raises(ImageError) as info:
        urls.fetch_url_image(url, transport=httpx.MockTransport(no_network))
    assert expected in str(info.value)
    assert_clean(str(info.value))


def resolves_to(address: str) -> Callable[..., list[tuple[Any, ...]]]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


@pytest.mark.parametrize(
    "address", ["10.0.0.7", "127.0.0.53", "fd00::1", "100.64.0.1", "240.0.0.1"]
)
def test_fetch_refuses_names_that_resolve_to_non_public_addresses(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to(address))
    with pytest.raises(ImageError, match=f"“intranet.example” is a .* address \\({address}\\)"):
        urls.fetch_url_image(
            "https://intranet.example/a.png", transport=httpx.MockTransport(no_network)
        )


def test_fetch_of_an_unknown_host_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ImageError, match="could not be found"):
        urls.fetch_url_image(
            "https://nowhere.example/a.png", transport=httpx.MockTransport(no_network)
        )


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("93.184.215.14"))


def test_fetch_returns_the_image_bytes(public_dns: None) -> None:
    body = encode(photo(), "JPEG")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "image/jpeg"})

    data = urls.fetch_url_image("https://img.example/a.jpg", transport=httpx.MockTransport(handler))
    assert data == body
    assert seen[0].headers["accept"] == "image/*"
    assert images.prepare_image(data).size == (640, 480)


def test_fetch_connects_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", resolves_to("2606:2800:21f:cb07::1"))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"image")

    url = "https://img.example:8443/a.jpg?x=1"
    assert urls.fetch_url_image(url, transport=httpx.MockTransport(handler)) == b"image"
    (request,) = seen
    assert str(request.url) == "https://[2606:2800:21f:cb07::1]:8443/a.jpg?x=1"
    assert request.headers["host"] == "img.example:8443"
    assert request.extensions["sni_hostname"] == "img.example"  # certificate checked by name


def test_fetch_is_not_fooled_by_dns_rebinding(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name resolves once: a second answer (an internal address) is never used.

    A real server on loopback stands in for the public one (loopback is allowed for this
    test only), so real httpx makes the connection.
    """
    answers = iter(["127.0.0.1", "10.9.9.9"])  # public-looking first, then "rebound"
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host != "img.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(urls, "_address_kind", lambda ip: None if ip.is_loopback else "private")
    body = encode(photo(), "PNG")
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        try:
            data = urls.fetch_url_image(f"http://img.example:{port}/a.png")
        finally:
            server.shutdown()
    assert data == body
    assert lookups == ["img.example"]
    assert hosts == [f"img.example:{port}"]


def test_fetch_of_an_international_host_name_uses_its_dns_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"image")

    url = "https://bücher.example./a.jpg"
    assert urls.fetch_url_image(url, transport=httpx.MockTransport(handler)) == b"image"
    assert asked == ["xn--bcher-kva.example"]
    assert seen[0].headers["host"] == "xn--bcher-kva.example"
    assert seen[0].extensions["sni_hostname"] == "xn--bcher-kva.example"


def test_fetch_gives_up_on_a_server_that_trickles(
    public_dns: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urls, "FETCH_DEADLINE_S", 0.3)

    def trickle() -> Any:
        for _ in range(100):  # 10 s in all, each byte well within the read timeout
            time.sleep(0.1)
            yield b"\xff"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    started = time.monotonic()
    with pytest.raises(ImageError, match="did not answer in time"):
        urls.fetch_url_image("https://img.example/a.jpg", transport=httpx.MockTransport(handler))
    assert time.monotonic() - started < 2.0


def test_fetch_gives_up_on_a_name_lookup_that_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urls, "DNS_TIMEOUT_S", 0.2)
    release = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> list[Any]:
        release.wait(5)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    try:
        with pytest.raises(ImageError, match="could not be found"):
            urls.fetch_url_image(
                "https://slow-dns.example/a.jpg", transport=httpx.MockTransport(no_network)
            )
    finally:
        release.set()
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("location", ["http://127.0.0.1/a.png", "https://img.example/b.jpg"])
def test_fetch_refuses_redirects(public_dns: None, location: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": location})

    with pytest.raises(ImageError, match=r"redirects \(302\) to .*use the final image address"):
        urls.fetch_url_image("https://img.example/a.jpg", transport=httpx.MockTransport(handler))


def test_fetch_stops_at_max_bytes(public_dns: None) -> None:
    sent: list[int] = []

    def endless() -> Any:
        for _ in range(1000):
            sent.append(1)
            yield b"\xff" * 1000

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # no content-length: chunked

    with pytest.raises(ImageError, match="over 0 MB"):
        urls.fetch_url_image(
            "https://img.example/a.jpg", max_bytes=5000, transport=httpx.MockTransport(streamed)
        )
    assert len(sent) <= 6  # stopped reading, did not drain the stream


def test_fetch_refuses_a_declared_oversize_body(public_dns: None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2048)

    with pytest.raises(ImageError, match="over"):
        urls.fetch_url_image(
            "https://img.example/a.jpg", max_bytes=1024, transport=httpx.MockTransport(handler)
        )


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (httpx.Response(404), "the server answered HTTP 404"),
        (httpx.ReadTimeout("slow"), "did not answer in time"),
        (httpx.ConnectError("refused"), "could not be downloaded (ConnectError)"),
    ],
)
def test_fetch_failures_are_sentences(public_dns: None, outcome: Any, expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(ImageError) as info:
        urls.fetch_url_image("https://img.example/a.jpg", transport=httpx.MockTransport(handler))
    assert expected in str(info.value)
    assert_clean(str(info.value))


# --------------------------------------------------------------------------- fuzzing

SEEDS = {
    fmt: encode(photo((320, 320)), fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
}
FUZZ = settings(
    max_examples=100,
    deadline=5000,  # ms; a normal example takes a few ms, the cap only catches a hang
    derandomize=True,  # the same cases every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def prepared_or_refused(data: bytes) -> None:
    try:
        prepared = images.prepare_image(data)
    except ImageError as exc:
        assert_clean(str(exc))
        return
    assert_within_limits(prepared)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    prepared_or_refused(data)


@FUZZ
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_fuzz_mutated_images(fmt: str, flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(SEEDS[fmt])
    for position, value in flips:
        data[position % min(len(data), 600)] = value  # mostly headers, where parsers branch
    if cut is not None:
        del data[cut % len(data) :]
    prepared_or_refused(bytes(data))


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("10.1", "private"),
        ("3232235777", "private"),  # 192.168.1.1
        ("169.254.169.254", "link-local"),
        ("0xa9.0xfe.0xa9.0xfe", "link-local"),  # the cloud metadata address, in hex
    ],
)
def test_internal_addresses_are_refused_in_every_spelling(host: str, kind: str) -> None:
    """A resolver reads short, decimal, octal and hex IPv4 forms; so does the check."""
    with pytest.raises(ImageError, match=f"points to a {kind} address"):
        urls.validate_url(f"http://{host}/image.png")


@pytest.mark.parametrize("host", ["face.bead", "cafe.example", "8.8.8.8", "0x.example"])
def test_public_names_that_look_numeric_are_not_mistaken_for_addresses(host: str) -> None:
    assert urls.validate_url(f"https://{host}/a.jpg") == f"https://{host}/a.jpg"
