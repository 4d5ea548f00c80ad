"""Contracts of the integration extension points: background models and profile models.

``friedel integrate`` predicts every reflection, asks the experiment's **profile model** for
its shoebox (bounding box, foreground radius, rocking width), reads the images in blocks of
frames and, for each window of finished shoeboxes, asks the **background model** for the
background under every pixel. Summation and profile fitting then use both.

Frames and units used below
---------------------------
* Pixel coordinates (x, y) as DIALS: the first pixel spans [0, 1), its centre is 0.5; frame
  coordinate z: image n of the scan spans [n - 1, n).
* The Kabsch frame of a reflection (Kabsch 2010): e1 = s1 x s0 / |.|, e2 = s1 x e1 / |.|,
  e3 along s1 + s0. A pixel ray s' has c1 = e1.(s' - s1)/|s1|, c2 = e2.(s' - s1)/|s1|
  (radians); c3 = zeta (phi' - phi) with zeta = m2 . e1 (radians).
* :class:`LocalFrames` linearises this per reflection: ``jacobian`` (n, 2, 2) gives
  (c1, c2) per pixel offset (dx, dy) from the predicted centre, which is exact to a few
  parts in 1e4 across a shoebox and keeps the per-pixel kernels free of geometry.
* Shoebox pixels are held in flat arrays addressed by ``offsets`` (n + 1); box ``i`` has
  shape ``shapes[i] = (nz, ny, nx)`` in C order (frame, slow, fast). Mask codes are DIALS's
  (:class:`friedel.flags.MaskCode`): valid 1, background 2, foreground 4, background_used 16,
  overlapped 32 (a background pixel lying in another reflection's foreground, or a foreground
  pixel shared by two reflections).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from friedel.contracts import PluginBase


@dataclass
class LocalFrames:
    """Per-reflection geometry in the Kabsch frame, linearised at the predicted centroid.

    Attributes
    ----------
    centre : (n, 3) float array
        Predicted centroid (x px, y px, z frame).
    jacobian : (n, 2, 2) float array
        d(c1, c2)/d(x, y) in radians per pixel.
    zeta : (n,) float array
        m2 . e1; |zeta| small means near the rotation axis.
    dphi : float
        Rotation per frame (radians).
    s1 : (n, 3) float array
        Diffracted beam vectors (1/Angstrom).
    """

    centre: np.ndarray
    jacobian: np.ndarray
    zeta: np.ndarray
    dphi: float
    s1: np.ndarray

    def __len__(self) -> int:
        return len(self.zeta)

    def select(self, index) -> "LocalFrames":
        return LocalFrames(self.centre[index], self.jacobian[index], self.zeta[index], self.dphi, self.s1[index])


@dataclass
class ProfileEstimate:
    """What a profile model learned from the strong spots (for the log and the JSON)."""

    sigma_b_deg: float
    sigma_m_deg: float
    n_spots_sigma_b: int
    n_spots_sigma_m: int
    given: bool = False


class ProfileModel(PluginBase, abc.ABC):
    """Shape of a reflection in the Kabsch frame (the ``profile_models`` extension point).

    Construction: ``cls(params, *, experiment)`` (``params`` is the plugin's own scope,
    ``profile.<name>``). The model is then :meth:`estimate`-d once from the experiment's strong
    indexed spots (or takes the user's values) before it is asked for shoeboxes.

    Optional methods the integrator uses when present: ``refine_sigma_m(frames, spot, frame,
    counts)`` re-estimates the rocking width from the background-subtracted counts of the
    reference reflections on each frame of their boxes (after the first pass over the images),
    and ``adopt(sigma_b, sigma_m)`` takes widths (radians) from other experiments when this one
    has too few spots (``estimate`` raised ``TooFewSpots``).

    Invariants: bounding boxes always contain the foreground (the ellipse
    |J (x - centre)| <= foreground radius on every frame of the box); box z ranges lie in
    the scan's frame range and are never empty; partiality is in [0, 1].
    """

    def __init__(self, params=None, *, experiment):
        super().__init__(params)  # self.params: the given scope or the defaults
        self.experiment = experiment

    @abc.abstractmethod
    def estimate(self, reference, frames: LocalFrames) -> ProfileEstimate:
        """Learn the widths from strong indexed spots.

        Parameters
        ----------
        reference : ReflectionTable
            Strong spots matched to predictions, with a ``shoebox`` column (the strong pixels
            from spot finding) and ``xyzcal.px``; may lack shoeboxes if the user gave values.
        frames : LocalFrames
            Their Kabsch frames (same rows).
        """

    @abc.abstractmethod
    def foreground_radius(self, frames: LocalFrames) -> np.ndarray:
        """(n,) radius of the foreground disc in (c1, c2), radians."""

    @abc.abstractmethod
    def rocking_sigma_frames(self, frames: LocalFrames) -> np.ndarray:
        """(n,) standard deviation of the rocking curve in frames (sigma_m / (|zeta| dphi))."""

    @abc.abstractmethod
    def bounding_boxes(self, frames: LocalFrames, z_range: tuple[int, int]) -> np.ndarray:
        """(n, 6) int32 ``x0, x1, y0, y1, z0, z1`` (half-open), z clipped to ``z_range``."""

    @abc.abstractmethod
    def partiality(self, frames: LocalFrames, bbox: np.ndarray) -> np.ndarray:
        """(n,) fraction of each rocking curve inside the frames of its box."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The ``profile`` entry of ``integrated.expt`` (DIALS: ``__id__``, n_sigma, sigma_b, sigma_m in degrees)."""


class BackgroundModel(PluginBase, abc.ABC):
    """Background under the shoeboxes (the ``background_algorithms`` extension point).

    Construction: ``cls(params, *, experiment, background_scope)`` for a plugin with ``Params`` (``params``
    is ``integration.background.<name>``), ``cls(*, experiment, background_scope)`` without; ``background_scope`` is
    the whole ``integration.background`` scope (a dispatcher such as ``auto`` builds another
    model from it).

    Invariants: only pixels whose mask has ``valid | background`` and not ``overlapped`` are
    used; the used ones get ``background_used`` (16); ``background`` is written for every
    pixel of every box that succeeded (counts per pixel, may be 0, never NaN); a box with too
    few usable pixels fails (``ok`` False) and keeps a zero background.
    """

    def __init__(self, params=None, *, experiment, background_scope):
        super().__init__(params)  # self.params: the given scope or the defaults
        self.experiment = experiment
        self.background_scope = background_scope

    @abc.abstractmethod
    def __call__(self, data: np.ndarray, mask: np.ndarray, offsets: np.ndarray, shapes: np.ndarray,
                 background: np.ndarray):
        """Model the background of every box of one window.

        Parameters
        ----------
        data : (N,) float32
            Pixel values (photons) of all boxes, flat.
        mask : (N,) uint8
            DIALS mask codes; ``background_used`` is set in place.
        offsets : (n + 1,) int64
            Box ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
        shapes : (n, 3) int64
            (nz, ny, nx) of each box.
        background : (N,) float32
            Filled in place.

        Returns
        -------
        ok : (n,) bool
            The model could be determined.
        mean : (n,) float
            Mean background per pixel over the box (``background.mean``).
        variance_of_mean : (n,) float
            Variance of the background level per pixel (enters Var(I) as n_fg^2 times it).
        """
