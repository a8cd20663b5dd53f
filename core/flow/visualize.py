"""Flow fields as colour images: the Middlebury colour wheel (Baker et al., ICCV 2007).

AIGVDet's flow branch was trained on images made by ``flow_to_image`` of RAFT's demo code and then
written with ``cv2.imwrite``, which takes the RGB picture for BGR: the files on disk, read back as
RGB, have their channels reversed. ``flow_to_classifier_rgb`` gives those pixels without the disk.
The arithmetic below follows the reference's dtypes (float32 flow, float64 blending) so the 8-bit
output is bit-identical.
"""

from __future__ import annotations

import numpy as np

# Hue segments of the wheel: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red.
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def make_colorwheel() -> np.ndarray:
    """(55, 3) float64 RGB colours of the Middlebury wheel, in [0, 255]."""
    ry, yg, gc, cb, bm, mr = _SEGMENTS
    wheel = np.zeros((sum(_SEGMENTS), 3))
    ramp = lambda n: np.floor(255 * np.arange(n) / n)  # noqa: E731 - rising 0 -> 255 over n steps
    col = 0
    wheel[col : col + ry, 0], wheel[col : col + ry, 1] = 255, ramp(ry)
    col += ry
    wheel[col : col + yg, 0], wheel[col : col + yg, 1] = 255 - ramp(yg), 255
    col += yg
    wheel[col : col + gc, 1], wheel[col : col + gc, 2] = 255, ramp(gc)
    col += gc
    wheel[col : col + cb, 1], wheel[col : col + cb, 2] = 255 - ramp(cb), 255
    col += cb
    wheel[col : col + bm, 2], wheel[col : col + bm, 0] = 255, ramp(bm)
    col += bm
    wheel[col : col + mr, 2], wheel[col : col + mr, 0] = 255 - ramp(mr), 255
    return wheel


_WHEEL = make_colorwheel()


def flow_uv_to_colors(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Colour of normalised flow components (|flow| <= 1 inside the wheel) -> (H, W, 3) uint8 RGB."""
    ncols = _WHEEL.shape[0]
    rad = np.sqrt(np.square(u) + np.square(v))
    angle = np.arctan2(-v, -u) / np.pi
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(np.int32)
    k1 = k0 + 1
    k1[k1 == ncols] = 0
    f = (fk - k0)[..., None]  # float64, as in the reference (float32 minus int32 arrays)
    col = (1 - f) * (_WHEEL[k0] / 255.0) + f * (_WHEEL[k1] / 255.0)
    inside = (rad <= 1)[..., None]
    # Inside the unit circle saturation grows with the radius; outside, colours are darkened.
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    return np.floor(255 * col).astype(np.uint8)


def flow_to_image(flow: np.ndarray, region: tuple[slice, slice] | None = None) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8 RGB, normalised by this field's largest magnitude.

    ``region`` (rows, columns) colours only that part, still normalised by the whole field's maximum: the
    classifiers see a centre crop, so the pixels outside it need not be computed.
    """
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow.shape}")
    u, v = flow[..., 0], flow[..., 1]
    rad_max = np.max(np.sqrt(np.square(u) + np.square(v)))
    if region is not None:
        u, v = u[region], v[region]
    epsilon = 1e-5
    return flow_uv_to_colors(u / (rad_max + epsilon), v / (rad_max + epsilon))


def flow_to_classifier_rgb(flow: np.ndarray, region: tuple[slice, slice] | None = None) -> np.ndarray:
    """The pixels AIGVDet's flow classifier sees: the colour image with channels reversed (see module doc)."""
    return np.ascontiguousarray(flow_to_image(flow, region)[..., ::-1])
