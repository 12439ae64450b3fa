"""Promotions rendered into pictures, made when they are needed (the demo sites, tests and benchmarks).

Nothing here is committed as a PNG: each picture is drawn from its text with the Noto Sans CJK font Debian's
``fonts-noto-cjk`` installs (the Makefile's APT_PACKAGES), in one of the variants promoters use to slip past
text filters and OCR alike: ``clean``, ``small`` (16 px), ``rotated`` (8°), ``lowcontrast``, ``noisy`` (salt
and pepper plus blur) and ``poster`` (red on yellow). A QR code is drawn with segno (pure Python).
"""

from __future__ import annotations

import io
import random

import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["FONT", "VARIANTS", "ad_picture", "png", "qr_picture", "render"]

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
VARIANTS = ("clean", "small", "rotated", "lowcontrast", "noisy", "poster")


def render(text: str, variant: str = "clean", *, seed: int = 7) -> Image.Image:
    """``text`` drawn on one line in the given variant (see the module)."""
    size = 16 if variant == "small" else 32
    font = ImageFont.truetype(FONT, size)
    w, h = int(font.getlength(text)) + 40, size * 2 + 20
    bg, fg = (255, 255, 255), (20, 20, 20)
    if variant == "lowcontrast":
        bg, fg = (200, 200, 200), (150, 150, 150)
    if variant == "poster":
        bg, fg = (250, 220, 60), (200, 0, 0)
    im = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(im).text((20, size // 2), text, font=font, fill=fg)
    if variant == "rotated":
        im = im.rotate(8, expand=True, fillcolor=bg)
    if variant == "noisy":
        rng = random.Random(seed)
        px = im.load()
        assert px is not None
        for _ in range(w * h // 12):
            v = rng.randrange(256)
            px[rng.randrange(w), rng.randrange(h)] = (v, v, v)
        im = im.filter(ImageFilter.GaussianBlur(0.6))
    return im


def qr_picture(payload: str, *, scale: int = 6, rotate: float = 0, blur: float = 0) -> Image.Image:
    """A QR code of ``payload`` on a yellow card (rotated or blurred as asked)."""
    buf = io.BytesIO()
    segno.make(payload, error="m").save(buf, kind="png", scale=scale, border=4)
    buf.seek(0)
    code = Image.open(buf).convert("RGB")
    if rotate:
        code = code.rotate(rotate, expand=True, fillcolor=(255, 255, 255))
    if blur:
        code = code.filter(ImageFilter.GaussianBlur(blur))
    card = Image.new("RGB", (code.width + 80, code.height + 80), (250, 220, 60))
    card.paste(code, (40, 40))
    return card


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def ad_picture(text: str, variant: str, qr: str) -> bytes:
    """A demo ad's picture as PNG: its text in ``variant``, above its QR code, either may be empty."""
    parts = ([render(text, variant)] if text else []) + ([qr_picture(qr)] if qr else [])
    if not parts:
        parts = [Image.new("RGB", (120, 80), (90, 140, 200))]  # an ordinary picture without text
    width, height = max(p.width for p in parts), sum(p.height for p in parts)
    out = Image.new("RGB", (width, height), (255, 255, 255))
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return png(out)
