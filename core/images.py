"""Text in pictures: OCR (RapidOCR) and QR codes (zxing-cpp) on an ad's images, in a bounded process pool.

Promoters put the promise and the contact in pictures because text filters do not read them. This module reads
a picture's bytes and returns its lines of text, each with its box (four corner points in the image's pixels),
and the payloads of the QR codes in it (docs/images.md gives the measurements behind both choices).

- **Hostile input** is checked before any decoder sees it (``check_image``): bytes over ``max_bytes``, a
  format other than PNG, JPEG, WebP, BMP or a single-frame GIF (an SVG, which may carry script, is never
  rasterised), more than ``max_pixels`` pixels (a decompression bomb: Pillow's ``MAX_IMAGE_PIXELS`` is set to
  the same limit, so Pillow refuses it too), fewer than 16 pixels a side (a tracking pixel), an animated GIF,
  or a truncated file. Each gives an ``ImageRead`` with ``status`` "skipped" or "error" and the reason: one
  record, never an exception.
- **Bounded**: ``ImageReader`` reads in a process pool of ``workers`` processes (default 1), each with an
  address-space limit (``memory_mb``), and waits at most ``timeout`` seconds per image; a worker that overruns
  is killed with its pool, which is started again for the next image. Workers are started with ``spawn``, not
  ``fork``: a crawl reads beside its reactor, its threads and its browser (crawler/reading.py), none of which a
  forked child should inherit.
- **Once per picture**: reads are kept in the ``image_reads`` table keyed by SHA-256 (``cached``/``remember``),
  so the same poster on a hundred ads is read once.
- **Offline**: RapidOCR 1.4.4's wheel ships its PP-OCRv4 detection, recognition and direction models; nothing
  is downloaded. Without rapidocr or zxing-cpp installed a read says so ("error", "ocr unavailable"), and the
  caller goes on.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import resource
import signal
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from PIL import Image, UnidentifiedImageError

from core.timeutil import now_utc

__all__ = [
    "OCR_UNAVAILABLE",
    "ImageLimits",
    "ImageRead",
    "ImageReader",
    "Line",
    "cached",
    "check_image",
    "read_image",
    "remember",
    "sha256",
    "warm_up",
]

OCR_UNAVAILABLE = "ocr unavailable"  # the start of the error of a picture read without RapidOCR or zxing-cpp
RASTER_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP", "GIF"})
MIN_SIDE = 16  # a picture narrower or lower than this holds no readable text: a tracking pixel, a spacer


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What a picture may be before it is read (seeds.yml ``images:`` per site; docs/seeds.md)."""

    max_bytes: int = 5_000_000
    max_pixels: int = 25_000_000  # 5000 × 5000; Pillow's own default warns at 89 M and refuses at 179 M
    max_count: int = 8  # pictures per ad (the crawl's limit)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of recognised text and where it is: ``box`` is its four corners [[x, y], ...] in pixels."""

    text: str
    box: tuple[tuple[int, int], ...]
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "box": [list(p) for p in self.box], "score": round(self.score, 3)}


@dataclass(frozen=True, slots=True)
class ImageRead:
    """What was read in one picture; ``status`` "ok", "skipped" (not a picture worth reading) or "error"."""

    sha256: str
    status: str
    error: str = ""
    width: int = 0
    height: int = 0
    lines: tuple[Line, ...] = ()
    codes: tuple[str, ...] = ()  # QR payloads as decoded
    seconds: float = 0.0
    engine: str = ""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_row(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "status": self.status,
            "error": self.error,
            "width": self.width,
            "height": self.height,
            "lines": json.dumps([line.to_dict() for line in self.lines], ensure_ascii=False),
            "codes": json.dumps(list(self.codes), ensure_ascii=False),
            "seconds": round(self.seconds, 3),
            "engine": self.engine,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ImageRead:
        lines = tuple(
            Line(d["text"], tuple((int(x), int(y)) for x, y in d["box"]), float(d["score"]))
            for d in json.loads(row["lines"])
        )
        return cls(
            row["sha256"],
            row["status"],
            row["error"],
            row["width"],
            row["height"],
            lines,
            tuple(json.loads(row["codes"])),
            row["seconds"],
            row["engine"],
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_image(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageRead | Image.Image:
    """The decoded picture (RGB), or an ``ImageRead`` saying why it is not read. Never raises."""
    digest = sha256(data)
    if len(data) > limits.max_bytes:
        return ImageRead(digest, "skipped", f"{len(data)} bytes, over the limit of {limits.max_bytes}")
    head = data[:256].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html")):
        return ImageRead(digest, "skipped", "not a raster picture (SVG or HTML): never rendered")
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow raises DecompressionBombError at twice this
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked just below
            im = Image.open(io.BytesIO(data))
        with im:
            fmt, (w, h) = im.format or "", im.size
            if fmt not in RASTER_FORMATS:
                return ImageRead(digest, "skipped", f"format {fmt or 'unknown'} is not read")
            if w * h > limits.max_pixels:
                return ImageRead(digest, "skipped", f"{w}×{h} pixels, over the limit of {limits.max_pixels}")
            if w < MIN_SIDE or h < MIN_SIDE:
                return ImageRead(digest, "skipped", f"{w}×{h} pixels: too small to hold text", w, h)
            frames = int(getattr(im, "n_frames", 1))
            if frames > 1:
                return ImageRead(digest, "skipped", f"animated ({frames} frames): not read", w, h)
            return im.convert("RGB")  # decodes the whole file: a truncated one raises here
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        return ImageRead(digest, "error", f"{type(exc).__name__}: {exc}"[:300])


_ENGINE: Any = None  # the process's RapidOCR, loaded at its first picture


def _engine() -> Any:
    global _ENGINE
    from rapidocr_onnxruntime import RapidOCR

    if _ENGINE is None:
        _ENGINE = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    return _ENGINE


def warm_up() -> bool:
    """Load the OCR models in this process now (a worker, before its first picture); False without OCR."""
    try:
        _engine()
        import zxingcpp  # noqa: F401
    except ImportError:
        return False
    return True


def _ocr(im: Image.Image) -> tuple[Line, ...]:
    import numpy as np

    result, _ = _engine()(np.asarray(im)[:, :, ::-1])  # RapidOCR takes OpenCV's BGR order
    lines = []
    for box, text, score in result or []:
        corners = tuple((round(float(x)), round(float(y))) for x, y in box)
        lines.append(Line(str(text), corners, round(float(score), 3)))
    return tuple(lines)


def _qr(im: Image.Image) -> tuple[str, ...]:
    import zxingcpp

    found = zxingcpp.read_barcodes(im, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return tuple(dict.fromkeys(code.text for code in found if code.valid and code.text))


def read_image(data: bytes, limits: ImageLimits = ImageLimits(), *, ocr: bool = True) -> ImageRead:
    """Read one picture in this process: its lines of text with their boxes and its QR codes. Never raises."""
    started = time.perf_counter()
    checked = check_image(data, limits)
    if isinstance(checked, ImageRead):
        return checked
    digest, (w, h) = sha256(data), checked.size
    try:
        codes = _qr(checked)
        lines = _ocr(checked) if ocr else ()
    except ImportError as exc:
        return ImageRead(digest, "error", f"{OCR_UNAVAILABLE}: {exc}", w, h)
    except Exception as exc:  # a decoder's failure on one hostile picture is that picture's error
        return ImageRead(digest, "error", f"{type(exc).__name__}: {exc}"[:300], w, h)
    engine = "rapidocr-onnxruntime 1.4.4 + zxing-cpp" if ocr else "zxing-cpp"
    return ImageRead(digest, "ok", "", w, h, lines, codes, round(time.perf_counter() - started, 3), engine)


def _start_worker(memory_mb: int) -> None:
    """A worker's address-space limit (a picture that needs more fails in that worker alone); Ctrl-C, which
    reaches the terminal's whole process group, is left to the parent, which stops its workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@dataclass
class ImageReader:
    """Reads pictures in a pool of ``workers`` processes, ``timeout`` seconds at most each (see the module)."""

    workers: int = 1
    timeout: float = 30.0
    memory_mb: int = 3000
    limits: ImageLimits = ImageLimits()
    ocr: bool = True
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.memory_mb,),
            )
        return self._pool

    def read(self, data: bytes, limits: ImageLimits | None = None) -> ImageRead:
        """One picture read by a worker (within ``limits``, else the reader's); a timeout or a dead worker is that
        picture's error."""
        future = self._executor().submit(read_image, data, limits or self.limits, ocr=self.ocr)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            self._kill()
            return ImageRead(sha256(data), "error", f"not read within {self.timeout:g} s")
        except BrokenProcessPool as exc:
            self._kill()
            return ImageRead(sha256(data), "error", f"the reading worker died: {exc}"[:300])

    def warm(self) -> None:
        """Start the workers and load their models now, without waiting: the first picture is then read at once."""
        if self.ocr:
            for _ in range(self.workers):
                self._executor().submit(warm_up)

    def abort(self) -> None:
        """Stop the workers now, a picture being read included (it is not read); the next ``read`` starts anew."""
        self._kill()

    def peak_memory_mb(self) -> float:
        """The largest resident memory any live worker reached (Linux's VmHWM), in MiB; 0 when none runs."""
        peak = 0.0
        for process in list((getattr(self._pool, "_processes", None) or {}).values()):
            try:
                with open(f"/proc/{process.pid}/status", encoding="ascii") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                continue
        return peak

    def _kill(self) -> None:
        """Stop the pool's workers now (a worker stuck on a picture does not return by itself)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cached(db: sqlite_utils.Database, digest: str) -> ImageRead | None:
    """The stored read of the picture with this SHA-256, if it was read before."""
    cursor = db.execute("SELECT * FROM image_reads WHERE sha256 = ?", [digest])
    row = cursor.fetchone()
    if row is None:
        return None
    return ImageRead.from_row(dict(zip([c[0] for c in cursor.description], row, strict=True)))


def remember(db: sqlite_utils.Database, read: ImageRead) -> None:
    """Keep a read, so that the same picture is never read again (timeouts are kept too: not tried again)."""
    row = read.to_row() | {"read_at": now_utc()}
    db.execute(
        f"INSERT OR REPLACE INTO image_reads ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
