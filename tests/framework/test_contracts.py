"""check_plugin reads each contract: construction, call arities, Params, base classes."""

import numpy as np

from friedel.contracts import PluginBase, check_plugin, contract_for
from friedel.hookspecs import EXTENSION_POINTS
from friedel.phil import param, scope


@scope
class GoodParams:
    n: int = param(3)


class GoodRejector(PluginBase):
    """Fits the outlier-rejector contract."""

    name, Params = "good", GoodParams

    def __call__(self, residuals, variances=None):
        return np.zeros(len(residuals), bool)


def test_a_plugin_that_fits_has_no_problems_and_gets_its_defaults():
    assert check_plugin("outlier_rejectors", GoodRejector) == []
    assert GoodRejector().params.n == 3 and GoodRejector(GoodParams(n=5)).params.n == 5


def test_every_problem_is_named():
    class NoOptionalArgument:
        name = "strict"

        def __call__(self, residuals):  # the contract also calls it with variances
            return residuals

    class NotAScope:
        name = "loose"
        Params = dict

        def __call__(self, residuals, variances=None):
            return residuals

    class WrongEngine:
        name = "engine"

        def __init__(self, iterations):  # the contract builds it with max_iterations=
            self.iterations = iterations

        def run(self, problem):
            return []

    class NoBuild:
        name = "model"

        def set_values(self, values):
            pass

        def derivatives(self, experiment):
            return None

    assert "__call__(residuals) cannot be called as __call__(residuals, variances=None)" in \
        check_plugin("outlier_rejectors", NoOptionalArgument)[0]
    assert "not a parameter scope" in check_plugin("outlier_rejectors", NotAScope)[0]
    assert "cannot be constructed as WrongEngine(max_iterations=...)" in check_plugin("refinement_engines", WrongEngine)[0]
    assert "has no method build(experiments, params)" in check_plugin("refinement_parameterisations", NoBuild)[0]
    assert "is not a class" in check_plugin("spotfinder_filters", lambda r, e, p: r)[0]


def test_every_extension_point_has_a_contract():
    missing = [p for p in EXTENSION_POINTS if contract_for(p) is None]
    assert missing == []


def test_every_hook_has_a_consumer_or_says_it_is_not_yet_called():
    """A hook nothing calls freezes an undefined interface: it must say so in its docstring."""
    import re
    from pathlib import Path

    from friedel import hookspecs

    root = Path(__file__).resolve().parents[2]
    sources = "\n".join(p.read_text() for d in ("plugins", "formats", "framework/cli") for p in (root / d).rglob("*.py"))
    calls = re.findall(r"(?:build_plugin|get_plugin|registry|plugin_names|plugin_entries)\(\s*\"(\w+)\"", sources)
    for point, hook in hookspecs.EXTENSION_POINTS.items():
        if point not in calls:
            assert "not yet called" in (getattr(hookspecs, hook).__doc__ or ""), point
