"""A generated corpus of bad uploads: every entry must end in one typed :mod:`boneage.errors` error.

Built in memory from a synthetic hand so the corpus needs no data files and is the same on every
machine. Cases are grouped by what a real upload can get wrong: empty or truncated files,
corrupt chunks, headers that lie about the size, decompression bombs, files that are not images
at all (HTML, scripts, PDFs, archives), valid images with nothing usable in them, colour photos
and broken DICOMs.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from boneage.errors import (
    BoneAgeError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    NotAHandRadiographError,
)
from helpers import synthetic_hand


@dataclass(frozen=True)
class BadFile:
    name: str
    data: bytes
    suffix: str
    expected: type[BoneAgeError]

    @property
    def filename(self) -> str:
        return f"{self.name}{self.suffix}"


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_with_header(width: int, height: int, bit_depth: int = 8, idat: bytes | None = None) -> bytes:
    """A PNG whose IHDR claims ``width x height``; the (tiny) IDAT need not match."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    idat = idat if idat is not None else zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid all-zero PNG: tiny on disk, ``width*height`` bytes once decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png_with_header(width, height, idat=body)


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF0 frame size of a baseline JPEG."""
    at = data.index(b"\xff\xc0") + 5
    return data[:at] + struct.pack(">HH", height, width) + data[at + 4 :]


@functools.cache
def _hand_images() -> dict[str, bytes]:
    hand = Image.fromarray(synthetic_hand(120))
    hand16 = Image.fromarray(synthetic_hand(120).astype(np.uint16) * 257)
    return {
        "png8": encode(hand, "PNG"),
        "png16": encode(hand16, "PNG"),
        "jpeg": encode(hand, "JPEG", quality=90),
        "tiff": encode(hand, "TIFF"),
        "bmp": encode(hand, "BMP"),
        "gif": encode(hand, "GIF"),
        "webp": encode(hand, "WEBP"),
    }


def empty_files() -> Iterator[BadFile]:
    for suffix in (".png", ".jpg", ".jpeg", ".dcm", ".tif", ".bmp", ""):
        yield BadFile(f"zero-bytes{suffix or '-no-suffix'}", b"", suffix, InvalidImageError)


def truncated_files() -> Iterator[BadFile]:
    """Cut every format inside its pixel data and inside its header."""
    suffixes = {"png8": ".png", "png16": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif"}
    for kind, data in _hand_images().items():
        if kind not in suffixes:
            continue
        cuts = [1, 4, 8, 16, 33, 60] + [int(len(data) * f) for f in (0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9)]
        for cut in cuts:
            yield BadFile(f"truncated-{kind}-at-{cut}", data[:cut], suffixes[kind], InvalidImageError)


def corrupt_files() -> Iterator[BadFile]:
    """Damage that decoders detect: PNG CRC and zlib errors, a JPEG without scan data."""
    png = _hand_images()["png8"]
    idat = png.index(b"IDAT")
    for offset in (8, 40, 200, 1000):
        damaged = bytearray(png)
        damaged[idat + offset] ^= 0xFF
        yield BadFile(f"png-crc-mismatch-{offset}", bytes(damaged), ".png", InvalidImageError)
    for kind in (b"IHDR", b"IDAT"):
        at = png.index(kind)
        yield BadFile(
            f"png-chunk-renamed-{kind.decode()}",
            png[:at] + b"XXXX" + png[at + 4 :],
            ".png",
            InvalidImageError,
        )
    for garbage in (b"\x00" * 64, b"\xff" * 64, bytes(range(64))):
        body = png_with_header(320, 400, idat=garbage)
        yield BadFile(f"png-bad-zlib-{garbage[:2].hex()}", body, ".png", InvalidImageError)
    jpeg = _hand_images()["jpeg"]
    scan = jpeg.index(b"\xff\xda")
    yield BadFile("jpeg-no-scan", jpeg[:scan] + b"\xff\xd9", ".jpg", InvalidImageError)
    yield BadFile("jpeg-only-markers", b"\xff\xd8\xff\xd9", ".jpg", InvalidImageError)
    yield BadFile("png-signature-only", b"\x89PNG\r\n\x1a\n", ".png", InvalidImageError)
    text_bomb = png_chunk(b"zTXt", b"bomb\x00\x00" + zlib.compress(b"A" * 20_000_000))
    yield BadFile("png-ztxt-bomb", png[:33] + text_bomb + png[33:], ".png", InvalidImageError)


def oversized_files() -> Iterator[BadFile]:
    """Headers that claim more pixels than the limit, real decompression bombs, huge files."""
    for width, height in (
        (10_000, 10_000),
        (50_000, 1_200),
        (100_000, 100_000),
        (2**31 - 1, 2**31 - 1),
        (8_000, 6_500),
    ):
        for depth in (8, 16):
            yield BadFile(
                f"png-claims-{width}x{height}-{depth}bit",
                png_with_header(width, height, depth),
                ".png",
                ImageTooLargeError,
            )
    jpeg = _hand_images()["jpeg"]
    for width, height in ((65_000, 65_000), (10_000, 8_000), (60_000, 1_000)):
        yield BadFile(
            f"jpeg-claims-{width}x{height}", jpeg_with_size(jpeg, width, height), ".jpg", ImageTooLargeError
        )
    for width, height in ((12_000, 12_000), (60_000, 1_000)):
        yield BadFile(f"png-bomb-{width}x{height}", png_bomb(width, height), ".png", ImageTooLargeError)
    gif = _hand_images()["gif"]
    yield BadFile(
        "gif-claims-65535x65535",
        gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:],
        ".gif",
        ImageTooLargeError,
    )
    bmp = _hand_images()["bmp"]
    yield BadFile(
        "bmp-claims-100000x100000",
        bmp[:18] + struct.pack("<ii", 100_000, 100_000) + bmp[26:],
        ".bmp",
        ImageTooLargeError,
    )


def not_images() -> Iterator[BadFile]:
    """Things people upload by mistake, or on purpose, with an image extension."""
    texts = {
        "html": b"<!doctype html><html><body><script>alert('x')</script></body></html>",
        "script": b"#!/bin/sh\nrm -rf / --no-preserve-root\n",
        "python": b"import os\nos.system('id')\n",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle r="50"/></svg>',
        "json": b'{"boneage": 120, "male": true}',
        "csv": b"id,boneage,male\n1377,180,False\n",
        "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
        "zip": b"PK\x03\x04" + b"\x00" * 60,
        "gzip": b"\x1f\x8b\x08\x00" + b"\x00" * 60,
        "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
        "exe": b"MZ\x90\x00" + b"\x00" * 60,
        "mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 60,
        "mp3": b"ID3\x04\x00\x00" + b"\x00" * 60,
        "utf16-text": "hand x-ray".encode("utf-16"),
        "null-bytes": b"\x00" * 4096,
        "dicm-garbage": b"\x00" * 128 + b"DICM" + b"\xff" * 200,
        "dicm-only": b"\x00" * 128 + b"DICM",
    }
    for suffix in (".png", ".jpg", ".dcm"):
        for kind, data in texts.items():
            yield BadFile(f"{kind}-named{suffix.replace('.', '-')}", data, suffix, InvalidImageError)
    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 7, 64, 129, 1000, 4096, 65_536, 300_000):
        yield BadFile(f"random-bytes-{size}", rng.bytes(size), ".png", InvalidImageError)


def unusable_images() -> Iterator[BadFile]:
    """Valid images with no hand radiograph in them."""
    rng = np.random.default_rng(1)
    size = (400, 320)
    blank = {
        "all-black": np.zeros(size, np.uint8),
        "all-white": np.full(size, 255, np.uint8),
        "flat-grey": np.full(size, 128, np.uint8),
        "nearly-black": rng.integers(0, 4, size).astype(np.uint8),
    }
    for kind, array in blank.items():
        for fmt, suffix in (("PNG", ".png"), ("JPEG", ".jpg")):
            yield BadFile(
                f"{kind}-{fmt.lower()}", encode(Image.fromarray(array), fmt), suffix, EmptyImageError
            )
    black16 = Image.fromarray(np.zeros(size, np.uint16))
    yield BadFile("all-black-16bit", encode(black16, "PNG"), ".png", EmptyImageError)
    hand = synthetic_hand(120)
    for width, height in ((1, 1), (10, 10), (63, 400), (400, 63), (32, 32)):
        small = Image.fromarray(hand).resize((width, height))
        yield BadFile(f"tiny-{width}x{height}", encode(small, "PNG"), ".png", EmptyImageError)
    colour = rng.integers(0, 256, (*size, 3)).astype(np.uint8)
    yield BadFile(
        "colour-noise-photo", encode(Image.fromarray(colour), "JPEG"), ".jpg", NotAHandRadiographError
    )
    sky = np.zeros((*size, 3), np.uint8)
    sky[..., 2] = 220
    sky[..., 1] = np.linspace(80, 200, size[1], dtype=np.uint8)
    yield BadFile("blue-sky-photo", encode(Image.fromarray(sky), "PNG"), ".png", NotAHandRadiographError)
    tinted = np.stack([hand, hand // 2, hand // 4], axis=-1)
    yield BadFile(
        "sepia-tinted-hand", encode(Image.fromarray(tinted), "PNG"), ".png", NotAHandRadiographError
    )
    cmyk = Image.fromarray(colour).convert("CMYK")
    yield BadFile("cmyk-colour-jpeg", encode(cmyk, "JPEG"), ".jpg", NotAHandRadiographError)
    palette = Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE)
    yield BadFile("palette-colour-gif", encode(palette, "GIF"), ".gif", NotAHandRadiographError)
    transparent = Image.fromarray(np.dstack([hand, hand, hand, np.zeros_like(hand)]), "RGBA")
    yield BadFile("fully-transparent-png", encode(transparent, "PNG"), ".png", EmptyImageError)


def broken_dicoms() -> Iterator[BadFile]:
    from pydicom.dataset import FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

    def dicom(
        rows: int, columns: int, pixel_bytes: bytes | None, syntax=ExplicitVRLittleEndian, **tags
    ) -> bytes:
        from pydicom.dataset import Dataset

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
        meta.MediaStorageSOPInstanceUID = "1.2.3.4"
        meta.TransferSyntaxUID = syntax
        ds = Dataset()
        ds.file_meta = meta
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
        ds.PhotometricInterpretation = "MONOCHROME2"
        for key, value in tags.items():
            setattr(ds, key, value)
        if pixel_bytes is not None:
            ds.PixelData = pixel_bytes
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()

    pixels = (synthetic_hand(120).astype(np.uint16) * 16).tobytes()
    yield BadFile("dicom-no-pixel-data", dicom(400, 320, None), ".dcm", InvalidImageError)
    yield BadFile(
        "dicom-short-pixel-data", dicom(400, 320, pixels[: len(pixels) // 3]), ".dcm", InvalidImageError
    )
    yield BadFile("dicom-zero-rows", dicom(0, 320, b""), ".dcm", InvalidImageError)
    yield BadFile("dicom-claims-20000x20000", dicom(20_000, 20_000, pixels), ".dcm", ImageTooLargeError)
    yield BadFile("dicom-claims-65535x65535", dicom(65_535, 65_535, pixels), ".dcm", ImageTooLargeError)
    yield BadFile(
        "dicom-jpeg2000-garbage",
        dicom(400, 320, encapsulate([b"\xff" * 1000]), JPEG2000Lossless),
        ".dcm",
        InvalidImageError,
    )
    yield BadFile("dicom-all-zero-pixels", dicom(400, 320, bytes(len(pixels))), ".dcm", EmptyImageError)
    yield BadFile("dicom-tiny", dicom(8, 8, bytes(128)), ".dcm", EmptyImageError)
    yield BadFile(
        "dicom-bad-photometric",
        dicom(400, 320, pixels, PhotometricInterpretation="PALETTE COLOR"),
        ".dcm",
        InvalidImageError,
    )
    photo = np.random.default_rng(2).integers(0, 256, (400, 320, 3)).astype(np.uint8).tobytes()
    colour_tags = dict(SamplesPerPixel=3, BitsAllocated=8, BitsStored=8, HighBit=7, PlanarConfiguration=0)
    yield BadFile(
        "dicom-rgb-photo",
        dicom(400, 320, photo, PhotometricInterpretation="RGB", **colour_tags),
        ".dcm",
        NotAHandRadiographError,
    )
    full = dicom(400, 320, pixels)
    for fraction in (0.2, 0.5, 0.9, 0.99):
        yield BadFile(
            f"dicom-truncated-{fraction}", full[: int(len(full) * fraction)], ".dcm", InvalidImageError
        )


def bad_file_corpus() -> list[BadFile]:
    corpus = [
        *empty_files(),
        *truncated_files(),
        *corrupt_files(),
        *oversized_files(),
        *not_images(),
        *unusable_images(),
        *broken_dicoms(),
    ]
    names = [case.name for case in corpus]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return corpus


# Non-image inputs: (sex, age in months) pairs that must be refused with the named error.
BAD_AGES: list[object] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    -1,
    -0.5,
    240.01,
    241,
    1e308,
    -1e308,
    "abc",
    "",
    " ",
    None,
    "12 years",
    [12],
    {"months": 12},
    "nan",
    "1e999",
]
BAD_SEXES: list[object] = [None, "", " ", "x", "unknown", "other", 2, -1, 0.5, "malee", "fem", [], {}]
