"""Safe image decoding: base64 and data: URLs, byte and pixel caps, complete images only."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from vision.errors import BadImage, BadRequest, ImageTooLarge
from vision.settings import VisionSettings

RGB = NDArray[np.uint8]  # H x W x 3, RGB order


def b64decode(text: str, settings: VisionSettings) -> bytes:
    # base64 is 4/3 of the bytes: refuse oversize before decoding anything.
    if len(text) > settings.max_image_bytes * 4 // 3 + 8:
        raise ImageTooLarge(f"image is over {settings.max_image_bytes} bytes")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"image is not valid base64: {exc}") from None


def data_url_bytes(url: str, settings: VisionSettings) -> bytes:
    """Bytes of a ``data:[mime];base64,...`` URL; any other scheme is refused (no fetching)."""
    if not url.startswith("data:"):
        raise BadRequest("input.url must be a data: URL; the service never fetches remote URLs")
    head, sep, payload = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        raise BadRequest("input.url must be a base64 data: URL (data:image/png;base64,...)")
    return b64decode(payload, settings)


def decode_image(data: bytes, settings: VisionSettings) -> RGB:
    """Decode JPEG/PNG/... bytes into RGB; truncated or non-image bytes raise BadImage."""
    if not data:
        raise BadImage("image is empty")
    if len(data) > settings.max_image_bytes:
        raise ImageTooLarge(f"image is over {settings.max_image_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width < 1 or height < 1:
                raise BadImage("image has zero size")
            if width * height > settings.max_image_pixels or max(width, height) > (
                settings.max_image_side
            ):
                raise ImageTooLarge(
                    f"image is {width}x{height}; the cap is {settings.max_image_pixels} pixels "
                    f"and {settings.max_image_side} per side"
                )
            img.load()
            rgb = img.convert("RGB")
    except (BadImage, ImageTooLarge):
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise BadImage(f"bytes are not a complete image: {exc}") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from None
    except Exception as exc:  # Pillow plugins raise odd types on hostile input
        raise BadImage(f"image could not be decoded: {type(exc).__name__}") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def encode_png(rgb: RGB) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def encode_jpeg(rgb: RGB, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
