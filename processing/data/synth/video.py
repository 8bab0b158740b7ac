"""Drawing EmoCue-Synth faces: `render_frames(factors, timestamps, size) -> uint8 (F, H, W, 3)`.

The face is drawn with PIL on a per-clip background, then lit and noised with numpy. All geometry is in
units of the face half-height R, so any frame size works (64 px for encoder pretraining, 112 px for clips).
Cue factors set the shapes; nuisance factors only set colours, placement, texture, lighting and noise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .factors import Factors

LIP_RGB = {"light skin": (130, 45, 50), "dark skin": (215, 125, 135)}  # lips must contrast with the skin
MOUTH_INSIDE_RGB = (45, 10, 15)
DARK_INK_RGB = (14, 9, 7)
IRIS_RGB = (45, 35, 30)
SCLERA_RGB = (245, 245, 240)
TEAR_RGB = (90, 160, 255)

# Targets (in units of R) that an expression reaches at full intensity; neutral values first.
EYE_HALF_HEIGHT = {"neutral": 0.075, "wide": 0.14, "narrowed": 0.03, "closed": 0.0}
BROW_GAP = {"neutral": 0.17, "raised": 0.29, "furrowed": 0.11}  # brow height above the eye centre
BROW_TILT = {"neutral": 0.0, "raised": -0.02, "furrowed": 0.08}  # how much lower the inner end sits
MOUTH_CURVE = {"smile": (0.13, 0.05), "frown": (-0.11, -0.04)}  # (corners up, centre down)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def expression_intensity(f: Factors, timestamps: np.ndarray) -> np.ndarray:
    """(F,) in [0, 1]: how far the face is from neutral towards its expression at each timestamp."""
    u = np.asarray(timestamps, dtype=np.float64) / f.duration
    if f.dynamics == "steady":
        return np.ones_like(u)
    rise = _smoothstep((u - (f.change_time - 0.08)) / 0.16)
    return rise if f.dynamics == "onset" else 1.0 - rise


def head_pose(f: Factors, timestamps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame head offsets in units of R: dx, dy (whole head), fdx, fdy (features on the face), turn."""
    u = np.asarray(timestamps, dtype=np.float64) / f.duration
    zero = np.zeros_like(u)
    pose = {"dx": zero, "dy": zero, "fdx": zero, "fdy": zero, "turn": zero}
    wave = np.sin(2 * np.pi * f.head_cycles * u + f.head_phase)
    if f.head == "nodding":
        pose.update(dy=0.15 * wave, fdy=0.08 * wave)
    elif f.head == "shaking":
        pose.update(dx=0.1 * wave, fdx=0.16 * wave)
    elif f.head == "turning away":
        turn = _smoothstep((u - 0.2) / 0.4)
        pose.update(dx=0.08 * f.turn_side * turn, fdx=0.32 * f.turn_side * turn, turn=turn)
    return pose


def _background(f: Factors, size: int) -> np.ndarray:
    n = f.nuisance
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    along = xx * np.cos(n.bg_angle) + yy * np.sin(n.bg_angle)
    if n.bg_texture == "stripes":
        pattern = np.sin(2 * np.pi * along / n.bg_period)
    elif n.bg_texture == "checker":
        across = -xx * np.sin(n.bg_angle) + yy * np.cos(n.bg_angle)
        pattern = np.sign(np.sin(2 * np.pi * along / n.bg_period) * np.sin(2 * np.pi * across / n.bg_period))
    elif n.bg_texture == "gradient":
        pattern = 2 * along - along.mean() * 2
    elif n.bg_texture == "blobs":
        rng = np.random.default_rng(f.render_seed + 1)
        pattern = np.zeros_like(xx)
        for cx, cy, s in rng.uniform([0, 0, 0.05], [1, 1, 0.2], size=(6, 3)):
            pattern += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)) * rng.choice([-1, 1])
    else:
        pattern = np.zeros_like(xx)
    bg = np.asarray(n.bg_rgb, np.float32) * (1 + 2 * n.bg_contrast * np.clip(pattern, -1, 1))[..., None]
    return np.clip(bg, 0, 255).astype(np.uint8)


def _lighting(f: Factors, size: int) -> np.ndarray:
    n = f.nuisance
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    ramp = xx * np.cos(n.light_angle) + yy * np.sin(n.light_angle)
    return (n.brightness * (1 + 2 * n.light_strength * ramp))[..., None].astype(np.float32)


def _luma(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _inks(n) -> dict[str, tuple[int, int, int]]:
    """Colours of the drawn features, chosen so that they stand out from this skin tone (a nuisance)."""
    light = _luma(n.skin_rgb) >= 125
    line = tuple(int(c * 0.45) for c in n.skin_rgb) if light else DARK_INK_RGB
    brow = n.hair_rgb if _luma(n.hair_rgb) < _luma(n.skin_rgb) - 70 else DARK_INK_RGB
    lips = LIP_RGB["light skin" if light else "dark skin"]
    pressed = tuple(int(c * 0.6) for c in lips) if light else lips
    return {"line": line, "brow": brow, "lips": lips, "pressed": pressed}


def _draw_face(draw: ImageDraw.ImageDraw, f: Factors, size: int, e: float, pose: dict) -> None:
    n = f.nuisance
    R = n.face_scale * size / 2
    W = 0.78 * R * (1 - 0.12 * pose["turn"])
    cx = size * (0.5 + n.face_x) + pose["dx"] * R
    cy = size * (0.47 + n.face_y) + pose["dy"] * R
    fx, fy = cx + pose["fdx"] * R, cy + pose["fdy"] * R
    lw = max(1, round(0.065 * R))
    ink = _inks(n)
    dark = ink["line"]

    # hair cap, then the face over it
    draw.ellipse((cx - 1.05 * W, cy - 1.1 * R, cx + 1.05 * W, cy + 0.25 * R), fill=n.hair_rgb)
    draw.ellipse((cx - W, cy - R, cx + W, cy + R), fill=n.skin_rgb)

    # eyes: the one on the side the head turns to narrows horizontally
    half_h = R * (EYE_HALF_HEIGHT["neutral"] + (EYE_HALF_HEIGHT[f.eyes] - EYE_HALF_HEIGHT["neutral"]) * e)
    ey = fy - 0.12 * R
    for side in (-1, 1):
        far = pose["turn"] if side == f.turn_side else 0.0
        ex, ew = fx + side * 0.36 * W / 0.78, 0.15 * R * (1 - 0.45 * far)
        if half_h > 0.018 * R:
            draw.ellipse((ex - ew, ey - half_h, ex + ew, ey + half_h), fill=SCLERA_RGB, outline=dark)
            ir = min(0.07 * R, half_h)
            draw.ellipse((ex - ir, ey - ir, ex + ir, ey + ir), fill=IRIS_RGB)
        else:  # closed: a lid line curving down
            draw.line([(ex - ew, ey), (ex, ey + 0.03 * R), (ex + ew, ey)], fill=dark, width=lw)
        # brows: inner end towards the nose
        gap = R * (BROW_GAP["neutral"] + (BROW_GAP[f.brows] - BROW_GAP["neutral"]) * e)
        tilt = R * BROW_TILT[f.brows] * e
        by = ey - gap
        inner, outer = ex - side * 0.16 * R, ex + side * 0.17 * R
        arch = 0.04 * R * e if f.brows == "raised" else 0.0
        draw.line([(inner, by + tilt), (ex, by - arch - 0.01 * R), (outer, by - 0.3 * tilt)],
                  fill=ink["brow"], width=max(1, round(1.3 * lw)))
        if f.tears and e > 0.15:
            top = ey + max(half_h, 0.03 * R) + 0.02 * R
            tx = ex + side * 0.05 * R
            draw.line([(tx, top), (tx, top + 0.3 * R * e)], fill=TEAR_RGB, width=max(1, round(0.05 * R)))
            d = 0.04 * R
            draw.ellipse((tx - d, top + 0.3 * R * e - d, tx + d, top + 0.3 * R * e + 1.5 * d), fill=TEAR_RGB)

    # nose
    draw.line([(fx, fy - 0.02 * R), (fx + 0.04 * R, fy + 0.2 * R), (fx - 0.03 * R, fy + 0.23 * R)],
              fill=dark, width=max(1, lw - 1))

    # mouth
    my, mw = fy + 0.5 * R, 0.27 * R
    if f.mouth in MOUTH_CURVE:
        up, down = (c * R * e for c in MOUTH_CURVE[f.mouth])
        mw *= 1 + 0.12 * e if f.mouth == "smile" else 1
        us = np.linspace(-1, 1, 9)
        points = [(fx + u * mw, my + down - (up + down) * u * u) for u in us]
        draw.line(points, fill=ink["lips"], width=max(1, round(1.2 * lw)), joint="curve")
    elif f.mouth == "open":
        oh, ow = max(0.5 * lw, 0.17 * R * e), mw * (1 - 0.4 * e)
        draw.ellipse((fx - ow, my - oh, fx + ow, my + oh), fill=MOUTH_INSIDE_RGB, outline=ink["lips"],
                     width=max(1, lw - 1))
    elif f.mouth == "tight-lipped":
        tw, crease = mw * (1 - 0.3 * e), 0.06 * R * e  # pressed lips: a thin dark line with creases at the ends
        lips = ink["pressed"]
        draw.line([(fx - tw, my), (fx + tw, my)], fill=lips, width=max(1, lw))
        for end in (-tw, tw):
            draw.line([(fx + end, my - crease), (fx + end, my + crease)], fill=lips, width=max(1, lw))
    else:
        draw.line([(fx - mw, my), (fx + mw, my)], fill=ink["lips"], width=max(1, round(1.2 * lw)))


def render_frames(factors: Factors, timestamps, size: int = 64) -> np.ndarray:
    """Draw the clip at `timestamps` (seconds): (F, size, size, 3) uint8. Deterministic given `factors`."""
    timestamps = np.atleast_1d(np.asarray(timestamps, dtype=np.float64))
    n = factors.nuisance
    background = Image.fromarray(_background(factors, size))
    R = n.face_scale * size / 2
    bx, by = size * (0.5 + n.face_x), size * (0.47 + n.face_y)
    ImageDraw.Draw(background).ellipse((bx - 1.7 * R, by + 0.85 * R, bx + 1.7 * R, by + 3.2 * R), fill=n.shirt_rgb)
    ImageDraw.Draw(background).rectangle((bx - 0.22 * R, by + 0.5 * R, bx + 0.22 * R, by + 1.1 * R),
                                         fill=tuple(int(c * 0.85) for c in n.skin_rgb))
    light = _lighting(factors, size)
    intensity = expression_intensity(factors, timestamps)
    pose = head_pose(factors, timestamps)
    # Pixel noise: a few frames get their own; a clip takes shifted windows of one (2 size)^2 field (cheaper).
    rng = np.random.default_rng(factors.render_seed)
    few = len(timestamps) <= 4
    noise = rng.standard_normal((len(timestamps), size, size, 3) if few else (2 * size, 2 * size, 3), np.float32)
    noise *= n.pixel_noise
    offsets = rng.integers(0, size, size=(len(timestamps), 2))
    out = np.empty((len(timestamps), size, size, 3), dtype=np.uint8)
    for i in range(len(timestamps)):
        image = background.copy()
        _draw_face(ImageDraw.Draw(image), factors, size, float(intensity[i]), {k: float(v[i]) for k, v in pose.items()})
        frame = np.asarray(image, dtype=np.float32) * light
        oy, ox = offsets[i]
        frame += noise[i] if few else noise[oy:oy + size, ox:ox + size]
        np.clip(frame, 0, 255, out=frame)
        out[i] = frame
    return out
