"""Contract of the ``scaling_models`` extension point (``friedel scale model=<name>``).

A scaling model turns its parameters into the **inverse scale factor** g of every observation
of one data set (one experiment: a sweep or a still), so that ``I_obs ≈ g · I_true``. The
scaler refines the parameters of every data set jointly by weighted least squares against the
symmetry-equivalent means, so a model only has to say what g is and how it changes with its
parameters.

Construction::

    model = SomeModel(params, experiment=experiment, data=data)

* ``params`` — the plugin's own ``Params`` scope (``scaling.<name>.*``), or its defaults;
* ``experiment`` — the :class:`friedel.models.experiment.Experiment` of the data set (beam,
  goniometer, scan may be used; stills have no scan or a zero-width one);
* ``data`` — a :class:`ScalingModelData`: per-observation arrays of the rows this model
  scales (fixed for the life of the model; the scaler excludes rows by weight, not by
  rebuilding the model).

Invariants:

* ``parameters`` is a float64 vector of length ``n_parameters``; ``null_parameters`` (the
  starting values) give g = 1 for every row;
* :meth:`inverse_scales` returns g > 0 (n,) and its Jacobian ``dg/dp`` as :class:`JacobianRows`
  (each row depends on at most k parameters: ``cols`` (n, k) parameter numbers, ``values``
  (n, k) derivatives; unused slots have value 0), at the given parameter vector, without
  side effects. This fixed-width row form lets the scaler accumulate the normal equations in
  one compiled pass instead of building a general sparse matrix every iteration;
* :meth:`restraints` returns the residual vector r_r(p) and its sparse Jacobian; the scaler
  adds ``|r_r|²`` to the target (same units as the weighted squared intensity residuals, i.e.
  χ²-like), so a restraint weight w on a parameter is the residual ``sqrt(w) · p``;
* :meth:`to_dict` gives the model in the layout DIALS writes into ``scaled.expt``
  (``__id__``, one dict per component with ``n_parameters, parameters, est_standard_devs,
  null_parameter_value``, and ``configuration_parameters``).
"""

from __future__ import annotations

import abc

import attrs
import numpy as np

from friedel.contracts import PluginBase


@attrs.define
class ScalingModelData:
    """What a scaling model may depend on, one entry per observation (row) it scales.

    Attributes
    ----------
    d : (n,) float
        Resolution (Å).
    phi : (n,) float
        Rotation angle of the observation (degrees); zeros for stills.
    s1 : (n, 3) float
        Diffracted-beam vector in the laboratory frame (1/Å; only its direction matters).
    image : (n,) int
        1-based image number of the observation (``exclude_images``, image groups).
    """

    d: np.ndarray
    phi: np.ndarray
    s1: np.ndarray
    image: np.ndarray

    def __len__(self) -> int:
        return len(self.d)


@attrs.define
class JacobianRows:
    """dg/dp of n rows in fixed-width row form: row i has derivative ``values[i, j]`` with
    respect to parameter ``cols[i, j]`` (repeated or zero-valued slots are allowed)."""

    cols: np.ndarray  # (n, k) int64
    values: np.ndarray  # (n, k) float64

    @classmethod
    def concatenate_columns(cls, parts, offsets) -> "JacobianRows":
        """Side by side: the Jacobians of several components of one model (column offsets)."""
        cols = np.concatenate([p.cols + o for p, o in zip(parts, offsets)], axis=1)
        values = np.concatenate([p.values for p in parts], axis=1)
        return cls(cols=cols.astype(np.int64), values=values)

    def to_sparse(self, n_parameters: int):
        """The same Jacobian as a scipy CSR matrix (n, n_parameters)."""
        import scipy.sparse as sp

        n, k = self.values.shape
        rows = np.repeat(np.arange(n), k)
        return sp.csr_matrix((self.values.ravel(), (rows, self.cols.ravel())), shape=(n, n_parameters))


class ScalingModel(PluginBase, abc.ABC):
    """Base class of scaling-model plugins (see the module docstring for the contract).

    Class attributes: ``name`` (the value of ``scaling.model=``), ``Params`` (an attrs scope
    or None), ``description`` (a one-line summary for the log).
    """

    def __init__(self, params=None, *, experiment, data: ScalingModelData):
        super().__init__(params)  # self.params: the given scope or the defaults
        self.experiment = experiment
        self.data = data
        self.parameters = np.asarray(self.null_parameters, dtype=float).copy()
        #: parameter standard deviations from the last full-matrix round (None before)
        self.esds: np.ndarray | None = None

    # -- what every model defines ------------------------------------------------------------
    @property
    @abc.abstractmethod
    def null_parameters(self) -> np.ndarray:
        """Starting parameter vector, giving g = 1 everywhere."""

    @abc.abstractmethod
    def inverse_scales(self, parameters: np.ndarray | None = None):
        """``(g, dg_dp)``: inverse scales (n,) and their Jacobian as :class:`JacobianRows`."""

    def restraints(self, parameters: np.ndarray | None = None):
        """``(residuals, jacobian)`` of the restraint terms; none by default."""
        import scipy.sparse as sp

        return np.zeros(0), sp.csr_matrix((0, self.n_parameters))

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The model as DIALS writes it into ``scaled.expt`` (``experiment.scaling_model``)."""

    @property
    def components(self) -> dict[str, slice]:
        """Names of the model's components and their slices of the parameter vector."""
        return {self.name: slice(0, self.n_parameters)}

    @property
    def fixed_for_esds(self) -> np.ndarray:
        """Boolean mask of parameters held fixed when parameter ESDs are computed (a gauge
        choice: the overall scale of a data set is degenerate with the merged intensities)."""
        return np.zeros(self.n_parameters, dtype=bool)

    # -- shared helpers ----------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return len(self.null_parameters)

    def summary(self) -> str:
        """One line for the log: the model and its components' sizes."""
        parts = ", ".join(f"{k} {s.stop - s.start}" for k, s in self.components.items())
        return f"{self.name} model ({parts} parameters)"

    def component_dict(self, name: str, null_value: float) -> dict:
        """One component in DIALS's layout, with ESDs when they are known."""
        s = self.components[name]
        values = self.parameters[s]
        esds = self.esds[s] if self.esds is not None else np.zeros(len(values))
        return {
            "n_parameters": int(len(values)),
            "parameters": [float(v) for v in values],
            "null_parameter_value": float(null_value),
            "est_standard_devs": [float(v) for v in esds],
        }
