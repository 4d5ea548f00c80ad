"""Contracts of geometry refinement: model parameterisations, least-squares engines, outlier
rejectors. Units: angles in mrad, lengths in mm, |s0| in 1/Angstrom, cell metric in 1e-5/A^2.

Parameterisations (``refinement_parameterisations``, chosen by ``refinement.parameterisation.models=``)
-------------------------------------------------------------------------------------------------------
A plugin class describes one kind of model (beam, crystal orientation, unit cell, detector,
goniometer). Construction is a classmethod: ``Plugin.build(experiments, params) -> list`` with
``experiments`` the :class:`friedel.models.ExperimentList` being refined and ``params`` the
whole ``refinement`` scope (the plugin's own parameters, if it has ``Params``, are
``params.parameterisation.<name>``). It returns one parameterisation object per distinct model
of its kind (models shared by experiments are parameterised once), or ``[]`` when the user
fixed them all. Each object has:

* ``model`` (the model it changes in place), ``experiment_ids`` (list of int), ``label`` (str),
  ``kind`` — which derivative it produces: ``"beam"`` (``s0``, k x 3), ``"crystal"`` (``A = U B``
  in the laboratory frame at phi = 0, k x 3 x 3), ``"detector"`` (``D = [fast|slow|origin]`` of
  each panel, k x n_panels x 3 x 3) or ``"goniometer"`` (setting rotation, k x 3 x 3);
* ``names`` (k parameter names), ``values`` (float array, k), ``free`` (bool array, k),
  ``n_free``, ``fix(names)``;
* ``set_values(values)`` — move the model to the k values;
* ``derivatives(experiment)`` — the derivatives of its ``kind`` at the current values;
* ``summary_values()`` — derived quantities worth reporting (dict), may be ``{}``.

Engines (``refinement_engines``, chosen by ``refinement.engine=``)
-----------------------------------------------------------------
Construction: ``Engine(max_iterations=n)`` (plus ``params`` first if it has ``Params``,
``refinement.<name>.*``). ``engine.run(problem) -> history``: drives a problem offering
``values()``, ``set_values(p)``, ``evaluate(gradients: bool) -> Evaluation(chi2, rmsds, N, g,
nref)`` (N = J^T W J dense or scipy.sparse, g = J^T W r, r = calculated - observed) and
``finished(history) -> reason or None``; returns the list of step records
(``{"step", "nref", "rmsd", "chi2", "mu"}``), leaves the problem at the best values found and
sets ``problem.last_evaluation``. At most ``max_iterations`` accepted steps.

Outlier rejectors (``outlier_rejectors``, chosen by ``refinement.outlier.algorithm=``)
-------------------------------------------------------------------------------------
Construction: ``Rejector(params)`` when it has ``Params`` (``refinement.outlier.<name>.*``),
else ``Rejector()``. Call: ``rejector(residuals, variances=None) -> outliers`` with
``residuals`` an ``(n, k)`` float array of one group of reflections (X, Y in mm and, for
rotation data, phi in rad; for stills the third column is DeltaPsi in rad) and optional
variances of the same shape; returns a bool array (n,), True for outliers. No state changes.
"""

from __future__ import annotations

import abc

from friedel.contracts import PluginBase


class Parameterisation(abc.ABC):
    """One kind of refinable model (see the module docstring)."""

    name: str = ""

    @classmethod
    @abc.abstractmethod
    def build(cls, experiments, params) -> list:
        """The parameterisations of every model of this kind in ``experiments``."""

    @abc.abstractmethod
    def set_values(self, values) -> None:
        """Move the model to ``values``."""

    @abc.abstractmethod
    def derivatives(self, experiment):
        """Derivatives of the model quantity of ``kind`` with respect to the k parameters."""

    @staticmethod
    def construction_problems(plugin) -> list[str]:
        return []  # built by the classmethod build, checked as an abstract method

    @staticmethod
    def construct(plugin, params, *, experiments, refinement_params):
        return plugin.build(experiments, refinement_params)


class Engine(abc.ABC):
    """A least-squares engine (see the module docstring)."""

    name: str = ""
    Params = None

    def __init__(self, *, max_iterations: int = 30):
        self.max_iterations = max_iterations

    @abc.abstractmethod
    def run(self, problem) -> list:
        """Minimise the problem's target; return the step history."""


class OutlierRejector(PluginBase, abc.ABC):
    """An outlier rejection algorithm (see the module docstring)."""

    @abc.abstractmethod
    def __call__(self, residuals, variances=None):
        """Bool array (n,), True for outliers."""
