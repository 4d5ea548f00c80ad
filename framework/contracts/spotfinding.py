"""Contracts of spot finding: threshold algorithms and spot filters.

Thresholds (``spotfinder_thresholds``, chosen by ``spotfinder.threshold.algorithm=``)
--------------------------------------------------------------------------------------
Construction: ``Threshold(params)`` when the class has ``Params`` (the user's values of
``spotfinder.threshold.<name>.*``), else ``Threshold()``. A threshold may instead share the
scope of another threshold by naming it in ``params_from`` (``dispersion_extended`` reads
``spotfinder.threshold.dispersion.*``, as in DIALS).

Call: ``threshold(image, mask, trusted_range) -> strong``, once per panel of every image:

* ``image`` — 2-D array ``(slow, fast)``, raw counts of one panel (int32 or float64);
* ``mask`` — bool array of the same shape, True for pixels that may be used (the format's
  static mask and the user's masks);
* ``trusted_range`` — ``(low, high)`` counts: a pixel is valid when ``low < value <= high``
  (the low bound is exclusive so that Pilatus module gaps at -1 are invalid);
* returns a bool array of the same shape, True for strong pixels, and False wherever the
  pixel is masked or outside the trusted range.

Invariants: no state changes between calls (the finder calls one instance on blocks of images
in worker threads or processes, so the instance must also be picklable); the result depends
only on the arguments.

Spot filters (``spotfinder_filters``: every registered filter runs)
-------------------------------------------------------------------
Construction: ``SpotFilter(params)`` when the class has ``Params`` (the user's values of
``spotfinder.filter.<name>.*``), else ``SpotFilter()``.

Call: ``spot_filter(reflections, experiments, filter_params) -> keep``:

* ``reflections`` — :class:`friedel.reflection_table.ReflectionTable` of the spots that
  survived the previous filters, with ``xyzobs.px.value`` (x, y in pixels, z in frames, the
  centroid), ``xyzobs.px.variance``, ``bbox``, ``panel``, ``id`` (experiment index),
  ``n_signal`` (strong pixels), ``intensity.sum.value``, ``flags``, ``shoebox``;
* ``experiments`` — the :class:`friedel.models.ExperimentList` the spots belong to;
* ``filter_params`` — the whole ``spotfinder.filter`` scope (``d_min``, ``min_spot_size``...);
  the filter's own parameters are ``self.params`` (``filter_params.<name>``);
* returns a bool array of length ``len(reflections)``, True for spots to keep.

Invariants: ``reflections`` is not modified. Filters run in order, built-ins first (size,
separation, resolution, ice rings, untrusted regions, background gradient), then third-party
filters, each on the survivors of the previous ones; the ``name`` labels the "removed by"
summary. A filter that has nothing to do (its switch off) returns all True.
"""

from __future__ import annotations

import abc

from friedel.contracts import PluginBase


class Threshold(PluginBase, abc.ABC):
    """A threshold algorithm: which pixels of one panel image are strong."""

    @abc.abstractmethod
    def __call__(self, image, mask, trusted_range):
        """Bool array (slow, fast), True for strong pixels (see the module docstring)."""


class SpotFilter(PluginBase, abc.ABC):
    """A spot filter: which found spots to keep."""

    @abc.abstractmethod
    def __call__(self, reflections, experiments, filter_params):
        """Bool array (n,), True for spots to keep (see the module docstring)."""
