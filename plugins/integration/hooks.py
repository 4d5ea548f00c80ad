"""Entry-point module of the integration plugins (registered in pyproject.toml).

Everything is declared lazily: the modules (numba kernels) load only when integrate runs.
"""

from friedel.hookspecs import LazyPlugin, hookimpl

_BG = "friedel.plugins.integration.background"
_PARAMS = "friedel.plugins.integration.params:"  # plugin scopes in a cheap module: --help needs no numba


@hookimpl
def friedel_background_algorithms():
    return [
        LazyPlugin("auto", f"{_BG}:AutoBackground", help="glm on photon-counting detectors, simple otherwise",
                   params=None),
        LazyPlugin("simple", f"{_BG}:SimpleBackground", help="Constant per box or frame, outliers rejected",
                   params=_PARAMS + "SimpleParams"),
        LazyPlugin("glm", f"{_BG}:GlmBackground", help="Robust Poisson GLM constant (Fisher-consistent)",
                   params=_PARAMS + "GlmParams"),
        LazyPlugin("null", f"{_BG}:NullBackground", help="Zero background (tests)", params=None),
    ]


@hookimpl
def friedel_profile_models():
    return [LazyPlugin("gaussian_rs", "friedel.plugins.integration.profile_model:GaussianRSProfile",
                       help="Gaussian in the Kabsch frame (sigma_b, sigma_m from the strong spots)",
                       params=_PARAMS + "GaussianRSParams")]


@hookimpl
def friedel_commands():
    return [LazyPlugin("integrate", "friedel.plugins.integration.command:IntegrateCommand",
                       help="Integrate the reflections of refined experiments (summation and profile fitting)")]
