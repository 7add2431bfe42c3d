"""Input images: anything people have, made into what the API takes.

Decoded safely (formats allow-listed, bombs refused from the header), made upright, sRGB and
8-bit, scaled to what the model's output resolution can use, and encoded as a compact
JPEG under the API's limits. Also framing previews and shape notes (URL checks
and the safe fetch live in `urls`). Raises only ImageError, whose message says what is wrong
and what to do.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from PIL import ExifTags, Image, ImageCms, ImageOps

from playground.errors import ImageError, ImageTooSmall
from playground.media.urls import is_url, validate_url
from playground.model.seedance import ASPECT_RATIOS, IMAGE_MAX_BYTES, aspect_value, output_sizes

log = logging.getLogger(__name__)

# The API's limits for input images (../shared/WAVESPEED_API.md).
MIN_SIDE_PX = 300
MAX_UPLOAD_BYTES = IMAGE_MAX_BYTES
# A file bigger than this is not opened at all. No photo needs more (a 20 MB PNG or a 48 MP
# HEIC is far below) and it bounds what a visitor can make the server read.
MAX_INPUT_BYTES = 200 * 1024 * 1024
# Decoding is refused above this many pixels, judged from the header before any memory is
# spent (for JPEG after DCT scaling, see _decode): 50 MP admits a 48 MP phone photo and is
# 200 MB as RGBA. A 20000 × 20000 "bomb" PNG is a few KB on disk and 1.6 GB decoded.
# Pillow's own guard (Image.MAX_IMAGE_PIXELS, ~89 MP warns, ~179 MP raises at open) still
# stands behind it: above ~179 MP even a JPEG is refused.
MAX_PIXELS = 50_000_000
# `upscale=True` enlarges at most this much: a 75 px thumbnail blown up to 300 px is mush.
MAX_UPSCALE = 4.0
# JPEG cannot store sides over 65,535 px; long before that an image is a strip, not a frame.
MAX_OUTPUT_SIDE_PX = 16_384
# 4:2:0 with optimised Huffman tables. The best quality whose file fits the upload budget
# is sent: high qualities keep fine texture (grain, foliage) that q90 smears
# (bench/bench_prepare.py). Over budget even at q90 is fine up to 10 MB.
JPEG_QUALITIES = (98, 95, 90)
UPLOAD_BUDGET_BYTES = 1536 * 1024
JPEG_FALLBACK_QUALITIES = (85, 80, 70)  # only for an image that would still be over 10 MB
# Images with at least this many pixels are resized in horizontal bands on two threads
# (Pillow releases the GIL while resampling; figures in docs/ARCHITECTURE.md).
BANDED_RESIZE_PIXELS = 4_000_000
RESIZE_WORKERS = 2
ASPECT_TOLERANCE = 0.03  # ratios closer than 3 % are the same framing
PREVIEW_SIDE_PX = 640
PREVIEW_BACKGROUND = (128, 128, 128)  # neutral grey bars for "fit" previews
# What Image.open may try. Pillow knows ~40 formats; the others (EPS runs Ghostscript, PSD,
# FITS, ...) are attack surface a playground does not need. HEIF comes from pillow-heif.
# (Multi-picture JPEGs from phones open as "MPO" through the JPEG entry.)
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF")
# Banding needs rows to split: a strip a few rows high is resized in one call.
BANDED_MIN_ROWS = 64


def _round_up(value: float, step: int = 16) -> int:
    return step * math.ceil(value / step)


def max_side_for(resolution: str) -> int:
    """The longest image side worth sending to a model with this output resolution.

    4/3 × the 16:9 frame's long side, rounded up to 16 px: 480p 1152, 720p 1664, 1080p
    2560. Then a 4:3 photo (nearly every phone or camera picture), landscape or portrait,
    covers every framing but one with no upsampling by the model: even 9:16 cut from a
    landscape photo uses its full 1248 px height at 720p. The exception, a 21:9 strip cut
    from a portrait photo, keeps a third of the picture and is enlarged ≤ 1.21×. More
    pixels would only cost decode, resize and upload time: at 720p a 12 MP photo decodes
    at half size (JPEG DCT scaling) and is resized 2016 -> 1664 (bench/bench_prepare.py).
    """
    table = output_sizes(resolution)
    return _round_up(max(table["16:9"]) * 4 / 3)


# When the model's resolution is unknown, enough for the largest (1080p).
MAX_SIDE_PX = max_side_for("1080p")


@dataclass(frozen=True)
class PreparedImage:
    """An image re-encoded as the API takes it (JPEG), ready to upload.

    `upscaled` is True when a too-small image was enlarged (only with `upscale=True`): tell
    the person, the video will be soft. `source_size` is the original's upright size.
    """

    data: bytes
    width: int
    height: int
    filename: str
    mime: str = "image/jpeg"
    upscaled: bool = False
    source_size: tuple[int, int] = (0, 0)
    source_format: str = ""

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


ImageSource = str | Path | bytes


def prepare_image(
    source: ImageSource,
    *,
    max_side: int | None = None,
    resolution: str | None = None,
    upscale: bool = False,
) -> PreparedImage:
    """Any image people have -> upright sRGB JPEG within the API's limits.

    `source` is a file path or the file's bytes. The long side is capped at `max_side`, or
    `max_side_for(resolution)`, or MAX_SIDE_PX; the short side never drops below 300 px.
    Smaller than 300 px raises ImageError unless `upscale=True`. Metadata (EXIF with GPS,
    ICC) is not sent: orientation and colour profile are applied to the pixels instead.
    Raises only ImageError, whose message says what is wrong and what to do.
    """
    limit = max_side if max_side is not None else MAX_SIDE_PX
    if max_side is None and resolution is not None:
        limit = max_side_for(resolution)
    decoded = _decode(source, max_side=limit, enforce_min=True, upscale=upscale)
    data, image = _encode_jpeg(decoded.image)
    return PreparedImage(
        data,
        image.width,
        image.height,
        f"{_safe_stem(source)}.jpg",
        upscaled=decoded.upscaled,
        source_size=decoded.source_size,
        source_format=decoded.source_format,
    )


def check_image(source: ImageSource, *, upscale: bool) -> tuple[tuple[int, int], bool]:
    """An image's upright size and whether it would be enlarged, by `prepare_image`'s own
    rules but from its header only (nothing decoded); ImageError says why it cannot go."""
    with _opened(source) as im:
        stored, orientation = im.size, _orientation(im)
        _, upscaled = _sized(im, MAX_SIDE_PX, enforce_min=True, upscale=upscale)
        return _upright_size(stored, orientation), upscaled


def image_size(source: ImageSource) -> tuple[int, int]:
    """(width, height) as the person sees the image (EXIF rotation applied), header only."""
    with _opened(source) as im:
        return _upright_size(im.size, _orientation(im))


def ratio_differs(a: tuple[int, int], b: tuple[int, int] | str) -> bool:
    """Whether two sizes (or a size and a ratio like "16:9") frame differently (> 3 %)."""
    rb = aspect_value(b) if isinstance(b, str) else b[0] / b[1]
    return abs(math.log((a[0] / a[1]) / rb)) > math.log1p(ASPECT_TOLERANCE)


def aspect_mismatch_note(start_size: tuple[int, int], end_size: tuple[int, int]) -> str | None:
    """A sentence for the person when the end image is framed unlike the start, else None."""
    if not ratio_differs(start_size, end_size):
        return None
    return (
        f"The end image is {_ratio_name(end_size)} but the start is {_ratio_name(start_size)}; "
        "Seedance will crop or stretch it to the start’s framing."
    )


def preview_aspect(
    source: ImageSource,
    aspect_ratio: str | None,
    mode: Literal["crop", "fit"] = "crop",
    *,
    side: int = PREVIEW_SIDE_PX,
) -> Image.Image:
    """What the video's frame will show of the image, as an RGB picture `side` px long.

    "crop" fills the frame and cuts the overflow (cover), "fit" shows all of the image
    with neutral bars (letterbox/pillarbox). No ratio (None, "", "auto") = the image as is.
    """
    if mode not in ("crop", "fit"):
        raise ValueError(f"mode must be 'crop' or 'fit', not {mode!r}")
    ratio = None if aspect_ratio in (None, "", "auto") else aspect_ratio
    if ratio is not None and ratio not in ASPECT_RATIOS:
        raise ValueError(f"unknown aspect ratio {ratio!r}; expected one of {ASPECT_RATIOS}")
    image = _decode(source, max_side=side, enforce_min=False, upscale=False).image
    if ratio is None:
        return image
    value = aspect_value(ratio)
    size = (side, round(side / value)) if value >= 1 else (round(side * value), side)
    if mode == "crop":
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    return ImageOps.pad(image, size, Image.Resampling.LANCZOS, color=PREVIEW_BACKGROUND)


_COMMON_RATIOS = (*ASPECT_RATIOS, "3:2", "2:3", "5:4", "4:5")


def _ratio_name(size: tuple[int, int]) -> str:
    """A size's ratio by name ("4:3") when within 3 % of a common one, else "1.85:1"."""
    for name in _COMMON_RATIOS:
        if not ratio_differs(size, name):
            return name
    ratio = size[0] / size[1]
    return f"{ratio:.2f}:1" if ratio >= 1 else f"1:{1 / ratio:.2f}"


# -- decoding


@dataclass(frozen=True)
class _Decoded:
    image: Image.Image  # RGB, upright, sRGB, at its final size
    source_size: tuple[int, int]  # upright
    source_format: str
    upscaled: bool


# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@functools.cache
def _open_formats() -> tuple[str, ...]:
    """The accepted formats this Pillow can open, HEIC (pillow-heif) taught to it once."""
    try:
        import pillow_heif
    except ImportError:
        pass
    else:
        pillow_heif.register_heif_opener()
    Image.init()
    return tuple(name for name in ACCEPTED_FORMATS if name in Image.OPEN)


def _accepted_names() -> str:
    heic = "HEIC, " if "HEIF" in _open_formats() else ""
    return f"JPEG, PNG, WebP, GIF, BMP, TIFF, {heic}AVIF"


@contextlib.contextmanager
def _opened(source: ImageSource) -> Iterator[Image.Image]:
    """The image opened lazily (header read, no pixels), or ImageError saying why not."""
    if isinstance(source, str) and not source.strip():
        raise ImageError("no image was given; upload one.")
    if isinstance(source, bytes):
        if not source:
            raise ImageError("it is an empty file (0 bytes); upload the image again.")
        with _open_stream(io.BytesIO(source)) as im:
            yield im
        return
    if isinstance(source, str) and is_url(source) and not os.path.exists(source):
        validate_url(source)  # names what is wrong with file:, javascript:, data:...
        raise ImageError(
            "it is a web address, not an uploaded file; addresses go to Seedance unchanged."
        )
    path = Path(source)
    try:
        if path.is_dir():
            raise ImageError(f"“{path.name}” is a folder, not an image file.")
        size = path.stat().st_size
        if size == 0:
            raise ImageError("it is an empty file (0 bytes); upload the image again.")
        if size > MAX_INPUT_BYTES:
            raise ImageError(
                f"the file is {size / 1024 / 1024:.0f} MB; files over "
                f"{MAX_INPUT_BYTES // 1024 // 1024} MB are not read. Export a smaller image."
            )
        stream = path.open("rb")
    except FileNotFoundError:
        raise ImageError(f"“{path.name}” no longer exists; upload the image again.") from None
    except OSError as exc:
        raise ImageError(f"“{path.name}” could not be opened ({exc.strerror}).") from None
    with stream, _open_stream(stream) as im:
        yield im


@contextlib.contextmanager
def _open_stream(stream: IO[bytes]) -> Iterator[Image.Image]:
    head = stream.read(512)
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            # The size is judged against MAX_PIXELS (in _decode); Pillow's warning adds
            # nothing. (catch_warnings is process-wide: racing threads can at worst leave
            # this one warning silenced, which is harmless.)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(stream, formats=_open_formats())
    except Image.UnidentifiedImageError:
        raise ImageError(_unidentified(head)) from None
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        mp = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too many pixels"
        raise ImageError(_too_many_pixels_message(mp)) from None
    except Exception as exc:  # a parser fed untrusted bytes fails in many ways
        raise ImageError(_damaged(exc)) from None
    # Not closed here: closing would free the pixels the caller goes on using; the stream
    # it reads from is closed by the caller.
    width, height = im.size
    if width <= 0 or height <= 0:
        raise ImageError(f"it has no pixels ({width}×{height}); the file is damaged.")
    yield im


def _too_many_pixels_message(what: str) -> str:
    return (
        f"it is {what}, too large to process safely; use an image under "
        f"{MAX_PIXELS // 1_000_000} megapixels."
    )


_MAGIC_KNOWN = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_MAGIC_OTHER = (
    (b"%PDF", "a PDF document, not an image; export the page as PNG or JPEG."),
    (b"8BPS", "a Photoshop file (PSD); export it as PNG or JPEG."),
    (b"%!PS", "a PostScript/EPS file; export it as PNG or JPEG."),
    (b"\xc5\xd0\xd3\xc6", "a PostScript/EPS file; export it as PNG or JPEG."),
    (b"\x00\x00\x01\x00", "an icon (ICO), too small to animate; use a photo."),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000, which is not supported; export it as JPEG or PNG."),
    (b"\xff\x4f\xff\x51", "JPEG 2000, which is not supported; export it as JPEG or PNG."),
    (b"\xff\x0a", "JPEG XL, which is not supported; export it as JPEG or PNG."),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL, which is not supported; export it as JPEG or PNG."),
    (b"PK\x03\x04", "a ZIP archive (or an Office document), not an image."),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def _unidentified(head: bytes) -> str:
    """Why Pillow did not recognise the bytes, as specifically as their first bytes tell."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<") and b"<svg" in text:
        return (
            "it is an SVG (a vector drawing), which Seedance cannot use; export it as PNG or JPEG."
        )
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        heif, avif = brand in _HEIF_BRANDS, brand in (b"avif", b"avis")
        if (heif and "HEIF" in _open_formats()) or (avif and "AVIF" in _open_formats()):
            name = "HEIC" if heif else "AVIF"
            return f"it looks like a {name} photo but could not be read: the file is damaged."
        if heif:
            return (
                "it is a HEIC/HEIF photo and HEIC support (pillow-heif) is not installed; "
                "export it as JPEG, or set the phone to “Most Compatible”."
            )
        if avif:
            return "it is an AVIF image this installation cannot read; export it as JPEG."
        return "it is a video (MP4/MOV), not an image; use a still frame as JPEG or PNG."
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "it looks like a WebP image but could not be read: the file is damaged."
    for magic, name in _MAGIC_KNOWN:
        if head.startswith(magic):
            return f"it looks like a {name} image but could not be read: the file is damaged."
    for magic, what in _MAGIC_OTHER:
        if head.startswith(magic):
            return f"it is {what}"
    if _looks_like_text(head):
        return "it is a text file, not an image (only its name says otherwise)."
    return f"it is not an image format this playground reads; use {_accepted_names()}."


def _looks_like_text(head: bytes) -> bool:
    sample = head.removeprefix(b"\xef\xbb\xbf")[:-4]  # the cut may split a UTF-8 character
    if not sample or b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in text)


def _damaged(exc: BaseException) -> str:
    reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError):
        return "it is too large to decode on this server; use a smaller image."
    if "truncated" in reason.lower() or isinstance(exc, EOFError):
        return (
            "the file is incomplete (cut short while saving or uploading); "
            "upload the original again."
        )
    return f"it could not be decoded: the file is damaged ({reason})."


def _orientation(im: Image.Image) -> int:
    """EXIF orientation, from the header only. A PNG's eXIf chunk placed after the pixels
    (rare) is not looked for: Pillow would decode the whole image to reach it, before the
    size checks and for a mere preview."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # broken EXIF: show the pixels as stored
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _target_size(
    size: tuple[int, int], max_side: int, *, enforce_min: bool, upscale: bool
) -> tuple[tuple[int, int], bool]:
    """The size to send (in the file's stored orientation) and whether it is enlarged."""
    width, height = size
    short, long = min(size), max(size)
    factor, upscaled = 1.0, False
    if enforce_min and short < MIN_SIDE_PX:
        factor, upscaled = MIN_SIDE_PX / short, True
        if factor > MAX_UPSCALE:
            raise ImageTooSmall(
                f"it is {width}×{height} px, too small even to upscale (more than "
                f"{MAX_UPSCALE:g}× would be needed); use an image at least "
                f"{MIN_SIDE_PX}×{MIN_SIDE_PX}.",
                can_upscale=False,
            )
        if not upscale:
            raise ImageTooSmall(
                f"it is {width}×{height} px; Seedance needs at least {MIN_SIDE_PX}×"
                f"{MIN_SIDE_PX}. Use a larger image, or allow upscaling.",
                can_upscale=True,
            )
    elif long > max_side:
        factor = max(max_side / long, MIN_SIDE_PX / short) if enforce_min else max_side / long
        factor = min(factor, 1.0)
    target = (max(1, round(width * factor)), max(1, round(height * factor)))
    if enforce_min and min(target) < MIN_SIDE_PX:  # rounding must not undo the minimum
        target = tuple(max(MIN_SIDE_PX, side) if side == min(target) else side for side in target)
    if max(target) > MAX_OUTPUT_SIDE_PX:
        raise ImageError(
            f"it is {width}×{height} px, a strip rather than a frame; crop it closer to "
            "the video's shape (the widest framing is 21:9)."
        )
    return (target[0], target[1]), upscaled


def _sized(
    im: Image.Image, max_side: int, *, enforce_min: bool, upscale: bool
) -> tuple[tuple[int, int], bool]:
    """The size to send an opened image at and whether it is enlarged, once its pixels are
    known to fit in memory: from its header alone (a JPEG's drafted decode scale)."""
    stored = im.size
    if (im.format or "") not in ("JPEG", "MPO") and stored[0] * stored[1] > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message(_megapixels(stored)))
    target, upscaled = _target_size(stored, max_side, enforce_min=enforce_min, upscale=upscale)
    try:
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale while still >= target (DCT scaling,
        # far faster than decoding 12 MP and resampling); a no-op elsewhere.
        im.draft(None, target)
    except Exception as exc:  # decoders fed untrusted bytes fail many ways
        raise ImageError(_damaged(exc)) from None
    if im.size[0] * im.size[1] > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message(_megapixels(stored)))
    return target, upscaled


def _decode(source: ImageSource, *, max_side: int, enforce_min: bool, upscale: bool) -> _Decoded:
    """Open, check, decode (scaled at decode time where the format allows) and normalise."""
    with _opened(source) as im:
        stored = im.size
        source_format = im.format or ""
        orientation = _orientation(im)
        target, upscaled = _sized(im, max_side, enforce_min=enforce_min, upscale=upscale)
        try:
            im.load()
            icc = im.info.get("icc_profile")
            image = _flatten(_to_8bit(im))
        except ImageError:
            raise
        except Exception as exc:  # decoders fed untrusted bytes fail many ways
            log.debug("decoding failed", exc_info=True)
            raise ImageError(_damaged(exc)) from None
    if image.size != target:
        image = _resize(image, target)
    if orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[orientation])
    return _Decoded(
        _to_srgb(image, icc if isinstance(icc, bytes) else None),
        _upright_size(stored, orientation),
        source_format,
        upscaled,
    )


def _megapixels(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]} px ({size[0] * size[1] / 1e6:.0f} megapixels)"


def _to_8bit(im: Image.Image) -> Image.Image:
    """RGB, RGBA or CMYK with 8 bits per channel; deep images are scaled, not clipped."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        return _deep_to_8bit(im).convert("RGB")
    if mode in ("RGBA", "CMYK"):
        return im
    if mode in ("LA", "La", "PA", "RGBa") or "transparency" in im.info:
        return im.convert("RGBA")
    if mode == "RGB":
        return im
    if mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(im, lab, srgb, outputMode="RGB")  # type: ignore[return-value]
    return im.convert("RGB")  # 1, L, P, RGBX, YCbCr, HSV


def _deep_to_8bit(im: Image.Image) -> Image.Image:
    """16-bit or 32-bit (I;16*, I, F) greyscale to L over the range its values use.

    16-bit files (I;16*) map 0..65535 to 0..255. I and F carry no bit depth, so their
    values say it: 0..1 (F) is normalised light, within 0..255 is 8-bit, within 0..65535
    is 16-bit, anything else is stretched from its minimum to its maximum.
    """
    if im.mode.startswith("I;16"):
        lo, hi = 0.0, 65535.0
        im = im.convert("I")
    else:
        lo, hi = (float(v) for v in im.getextrema())  # type: ignore[union-attr]
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 0.0, 255.0
        elif im.mode == "F" and lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        elif lo >= 0 and hi <= 255:
            lo, hi = 0.0, 255.0
        elif lo >= 0 and hi <= 65535:
            lo, hi = 0.0, 65535.0
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return im.point(lambda v: v * scale - lo * scale).convert("L")


def _flatten(im: Image.Image) -> Image.Image:
    """Transparency onto white (not black, which is what dropping alpha would show)."""
    if im.mode != "RGBA":
        return im
    flat = Image.new("RGB", im.size, "white")
    flat.paste(im, mask=im.getchannel("A"))
    return flat


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB: the API ignores colour profiles, so a Display P3 or CMYK profile is
    applied to the pixels (LittleCMS) rather than sent along."""
    transform = _srgb_transform(icc, im.mode) if icc else None
    if transform is not None:
        try:
            return ImageCms.applyTransform(im, transform)  # type: ignore[return-value]
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.debug("colour profile not applied", exc_info=True)
    return im if im.mode == "RGB" else im.convert("RGB")


@functools.lru_cache(maxsize=16)
def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from the embedded profile to sRGB; None for sRGB or a bad one."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "sRGB" in (profile.profile.profile_description or "") and mode == "RGB":
            return None
        expected = {"RGB": "RGB ", "CMYK": "CMYK"}.get(mode)
        if profile.profile.xcolor_space != expected:
            return None
        return ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            mode,
            "RGB",
            flags=ImageCms.Flags.NOCACHE,  # no 1-pixel cache: safe to share across threads
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """LANCZOS; a big image in horizontal bands on two threads. Each band's `box` lets
    the filter read source rows beyond it, so there is no seam: the result matches one
    whole-image call to within float rounding (±1 level on a few pixels)."""
    if im.width * im.height < BANDED_RESIZE_PIXELS or size[1] < BANDED_MIN_ROWS:
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    width, height = size
    rows = [round(height * i / RESIZE_WORKERS) for i in range(RESIZE_WORKERS + 1)]
    scale = im.height / height

    def band(i: int) -> Image.Image:
        top, bottom = rows[i], rows[i + 1]
        box = (0.0, top * scale, float(im.width), bottom * scale)
        return im.resize((width, bottom - top), Image.Resampling.LANCZOS, box, 3.0)

    resized = Image.new(im.mode, size)
    for top, part in zip(rows, _resize_pool().map(band, range(RESIZE_WORKERS)), strict=False):
        resized.paste(part, (0, top))
    return resized


@functools.cache
def _resize_pool() -> ThreadPoolExecutor:
    """Shared by all requests: concurrent uploads queue here instead of oversubscribing."""
    return ThreadPoolExecutor(RESIZE_WORKERS, thread_name_prefix="resize")


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality, subsampling=2, optimize=True)
    return buffer.getvalue()


def _encode_jpeg(im: Image.Image) -> tuple[bytes, Image.Image]:
    """The best quality within the upload budget; else, under the API's 10 MB limit,
    quality and then size give way only as far as needed."""
    for quality in JPEG_QUALITIES:
        data = _jpeg(im, quality)
        if len(data) <= UPLOAD_BUDGET_BYTES:
            return data, im
    if len(data) <= MAX_UPLOAD_BYTES:
        return data, im
    while True:
        for quality in JPEG_FALLBACK_QUALITIES:
            data = _jpeg(im, quality)
            if len(data) <= MAX_UPLOAD_BYTES:
                return data, im
        smaller = (round(im.width * 0.8), round(im.height * 0.8))
        if min(smaller) < MIN_SIDE_PX:  # pragma: no cover - 10 MB needs ~30 MP of noise
            raise ImageError("even re-encoded it is over 10 MB; use a smaller image.")
        im = _resize(im, smaller)


def _safe_stem(source: ImageSource) -> str:
    """The upload's file name stem: the original's, in safe characters."""
    stem = "image" if isinstance(source, bytes) else Path(source).stem
    return re.sub(r"[^\w.-]+", "_", stem).strip("._")[:64] or "image"
