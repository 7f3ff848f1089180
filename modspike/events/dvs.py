"""A DVS pixel model and the offline event-camera stand-in built on it ("dvs-digits").

**Pixel model** (:class:`PixelModel`, :class:`DVSPixels`). Each pixel keeps a reference level of
its log intensity, set when the camera starts (so a static scene gives no events). When
``log I - ref >= c_on`` the pixel emits an ON event, when ``ref - log I >= c_off`` an OFF event;
after an event the reference is reset to the present level and the pixel is held in reset for
``refractory_us`` (changes during that time are lost, as in the DVS circuit). The scene is
sampled every ``step_us``; an event's timestamp is the linearly interpolated time at which log I
crossed the threshold within the step, delayed to the end of the refractory period if needed,
rounded to whole microseconds. At most one event per pixel per step. Optional background activity
adds Poisson events of random polarity at ``noise_hz`` per pixel (they do not reset the pixel).

**Stand-in** (:func:`standin_events`). scikit-learn's 8x8 digits, upsampled 2x by bilinear
interpolation to 16x16 and centred on a 24x24 sensor in front of a dark background, are moved by
the camera in three straight saccades that trace a triangle and return to the start (N-MNIST was
recorded with three saccades of an ATIS camera in front of a monitor). Why 2x: at 8x8 a one-pixel
move shifts the digit by an eighth of its size and every stroke pixel flips at once; at 16x16 a
stroke edge is two sensor pixels wide, so a saccade of a few pixels sweeps edges across pixels
and the events show the stroke edges and their orientation, as in N-MNIST, while the 24x24
frames stay cheap enough to train on CPUs. Each sample's digit is offset by a seeded sub-pixel
jitter, so the events depend on the seed and on the sample's index in the digits set only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .types import Sensor, make_events


@dataclass(frozen=True)
class PixelModel:
    """Constants of the DVS pixel (thresholds in natural-log units)."""

    c_on: float = 0.2
    c_off: float = 0.2
    refractory_us: int = 1000
    noise_hz: float = 0.0

    def __post_init__(self) -> None:
        if not (self.c_on > 0 and self.c_off > 0):
            raise ConfigError("DVS thresholds c_on and c_off must be positive")
        if self.refractory_us < 0 or self.noise_hz < 0:
            raise ConfigError("refractory_us and noise_hz must be >= 0")


class DVSPixels:
    """A batch of pixel arrays ``(N, H, W)`` stepped through log-intensity frames."""

    def __init__(self, log_intensity: np.ndarray, t_us: float, model: PixelModel):
        self.model = model
        self.ref = np.array(log_intensity, dtype=np.float64)
        self.level = self.ref.copy()
        self.t = float(t_us)
        self.last = np.full(self.ref.shape, -np.inf)

    def step(self, log_intensity: np.ndarray, t_us: float) -> tuple[np.ndarray, ...]:
        """Advance to ``t_us``; return the events ``(n, y, x, t, p)`` of this step."""
        m = self.model
        level = np.asarray(log_intensity, dtype=np.float64)
        ready = (t_us - self.last) >= m.refractory_us
        diff = level - self.ref
        on = ready & (diff >= m.c_on)
        off = ready & (diff <= -m.c_off)
        fire = on | off
        n, y, x = np.nonzero(fire)
        target = np.where(on, self.ref + m.c_on, self.ref - m.c_off)[n, y, x]
        before, after = self.level[n, y, x], level[n, y, x]
        change = after - before
        frac = np.divide(target - before, change, out=np.ones_like(change), where=change != 0).clip(
            0.0, 1.0
        )
        t_ev = np.maximum(self.t + frac * (t_us - self.t), self.last[n, y, x] + m.refractory_us)
        # fired pixels reset to the present level; pixels still refractory are held in reset
        self.ref = np.where(fire | ~ready, level, self.ref)
        self.last[n, y, x] = t_ev
        self.level, self.t = level, float(t_us)
        return n, y, x, np.round(t_ev).astype(np.int64), on[n, y, x]


def background_noise(
    rng: np.random.Generator, sensor: Sensor, duration_us: int, rate_hz: float
) -> np.ndarray:
    """Poisson background events of random polarity at ``rate_hz`` per pixel, sorted by time."""
    count = rng.poisson(rate_hz * duration_us * 1e-6 * sensor.height * sensor.width)
    t = np.sort(rng.integers(0, duration_us, count))
    return make_events(
        rng.integers(0, sensor.width, count),
        rng.integers(0, sensor.height, count),
        t,
        rng.integers(0, 2, count),
    )


@dataclass(frozen=True)
class StandIn:
    """Geometry and timing of the stand-in (lengths in sensor pixels, times in microseconds)."""

    side: int = 24
    scale: int = 2
    background: float = 0.1  # screen intensity where the digit is 0 (the stroke adds up to 1)
    amplitude_px: float = 2.0  # side of the saccade triangle, roughly
    jitter_px: float = 0.5  # uniform per-sample offset of the digit in x and y
    onset_us: int = 5_000  # still camera before the first saccade
    saccade_us: int = 100_000
    step_us: int = 1_000  # scene sampling; 500 us: -1.6 % events (benchmarks/event_data.py)
    pixel: PixelModel = field(default_factory=PixelModel)

    @property
    def sensor(self) -> Sensor:
        return Sensor(self.side, self.side, 2)

    @property
    def duration_us(self) -> int:
        return self.onset_us + 3 * self.saccade_us

    def vertices(self) -> np.ndarray:
        """Camera offsets (x, y) at the start of each saccade and at the end: a closed triangle
        whose sides run up-right, left and down-right (y grows downwards)."""
        a = self.amplitude_px
        return np.array([[0.0, a / 2], [a / 2, -a / 2], [-a / 2, -a / 2], [0.0, a / 2]])

    def offset(self, t_us: float) -> np.ndarray:
        """The scene's shift (x, y) at time ``t_us``: still, then three straight saccades."""
        v = self.vertices()
        s = (t_us - self.onset_us) / self.saccade_us
        if s <= 0:
            return v[0]
        k = min(int(s), 2)
        return v[k] + (min(s, 3.0) - k) * (v[k + 1] - v[k])


def _bilinear_weights(coord: np.ndarray, size: int) -> np.ndarray:
    """``(..., P, size)`` weights that sample a length-``size`` signal at ``coord`` (zero outside)."""
    return np.maximum(0.0, 1.0 - np.abs(coord[..., None] - np.arange(size)))


def render(images: np.ndarray, shift: np.ndarray, cfg: StandIn) -> np.ndarray:
    """Log intensity ``(N, side, side)`` of ``images`` (N, h, w in [0, 1]) shifted by ``shift``
    (N, 2) sensor pixels, upsampled by ``cfg.scale`` and centred."""
    _, h, w = images.shape
    j = np.arange(cfg.side) - (cfg.side - 1) / 2
    ux = (j[None, :] - shift[:, :1]) / cfg.scale + (w - 1) / 2  # (N, side) image columns
    uy = (j[None, :] - shift[:, 1:]) / cfg.scale + (h - 1) / 2
    wx, wy = _bilinear_weights(ux, w), _bilinear_weights(uy, h)  # (N, side, w), (N, side, h)
    picture = wy @ images @ wx.transpose(0, 2, 1)
    return np.log(cfg.background + picture)


def standin_events(
    images: np.ndarray,
    indices: np.ndarray,
    seed: int,
    cfg: StandIn | None = None,
    batch: int = 256,
    progress: bool = False,
) -> list[np.ndarray]:
    """Events of each image (N, h, w in [0, 1]); sample ``i``'s jitter and noise come from
    ``default_rng([seed, indices[i]])``, so a sample's events do not depend on the batch."""
    cfg = cfg or StandIn()
    images = np.asarray(images, dtype=np.float64)
    indices = np.asarray(indices)
    if images.ndim != 3 or len(indices) != len(images):
        raise ConfigError("images must be (N, h, w) with one index per image")
    from tqdm.auto import tqdm

    out: list[np.ndarray] = []
    starts = range(0, len(images), batch)
    for start in tqdm(starts, desc="dvs-digits", unit="batch", disable=not progress):
        out += _standin_batch(
            images[start : start + batch], indices[start : start + batch], seed, cfg
        )
    return out


def _standin_batch(images, indices, seed, cfg: StandIn) -> list[np.ndarray]:
    rngs = [np.random.default_rng([seed, int(i)]) for i in indices]
    jitter = np.array([r.uniform(-cfg.jitter_px, cfg.jitter_px, 2) for r in rngs]).reshape(-1, 2)
    pixels = DVSPixels(render(images, jitter + cfg.offset(0), cfg), 0, cfg.pixel)
    parts = []
    for t in range(cfg.step_us, cfg.duration_us + 1, cfg.step_us):
        parts.append(pixels.step(render(images, jitter + cfg.offset(t), cfg), t))
    n, y, x, t, p = (np.concatenate(c) for c in zip(*parts))
    t = np.minimum(t, cfg.duration_us - 1)  # the recording is [0, duration_us)
    order = np.lexsort((t, n))
    n, y, x, t, p = n[order], y[order], x[order], t[order], p[order]
    bounds = np.searchsorted(n, np.arange(len(images) + 1))
    out = []
    for k, rng in enumerate(rngs):
        sl = slice(bounds[k], bounds[k + 1])
        ev = make_events(x[sl], y[sl], t[sl], p[sl])
        if cfg.pixel.noise_hz > 0:
            noise = background_noise(rng, cfg.sensor, cfg.duration_us, cfg.pixel.noise_hz)
            ev = np.concatenate([ev, noise])
            ev = ev[np.argsort(ev["t"], kind="stable")]
        out.append(ev)
    return out
