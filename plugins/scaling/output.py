"""Writing the scaling results into the reflection table and the experiments (DIALS's layout).

Reflection columns (every row assigned to an experiment; other rows are dropped):

* ``inverse_scale_factor`` g and ``inverse_scale_factor_variance`` (from the full-matrix round);
* ``intensity.scale.value`` / ``.variance``: the corrected but **unscaled** intensity chosen
  for scaling (lp/qe, 1/partiality for sums) and its error-model variance, so the scaled
  intensity is value/g with variance variance/g²;
* ``Ih_values``: the scaled group mean each row was compared with;
* flags ``scaled``, ``outlier_in_scaling``, ``excluded_for_scaling``, ``user_excluded_in_scaling``.

Each experiment gets ``scaling_model`` (the model's ``to_dict()`` plus the error model and Imid
in ``configuration_parameters``).
"""

from __future__ import annotations

import numpy as np

from friedel.flags import Flags
from friedel.plugins.scaling.target import group_means


def scaled_table(table, result):
    """A copy of the input rows that belong to experiments, with the scaling columns set."""
    data = result.data
    out = table.select(data.rows)
    n = len(out)
    g = np.where(result.g > 0, result.g, 1.0)
    out["inverse_scale_factor"] = g
    out["inverse_scale_factor_variance"] = result.g_variance
    out["intensity.scale.value"] = np.where(np.isfinite(result.intensity), result.intensity, 0.0)
    out["intensity.scale.variance"] = np.where(np.isfinite(result.variance), result.variance, 0.0)
    weight = np.where(result.variance > 0, 1.0 / np.where(result.variance > 0, result.variance, 1.0), 0.0)
    mean, _ = group_means(result.intensity, weight, g, data.group, result.scaled)
    out["Ih_values"] = mean[data.group]
    flags = np.asarray(out["flags"], dtype=np.int64).copy() if "flags" in out else np.zeros(n, np.int64)
    flags &= ~int(Flags.scaled | Flags.outlier_in_scaling | Flags.excluded_for_scaling)
    flags[result.scaled] |= int(Flags.scaled)
    flags[result.outlier & data.scalable] |= int(Flags.outlier_in_scaling)
    flags[~data.scalable & ~data.user_excluded] |= int(Flags.excluded_for_scaling)
    flags[data.user_excluded] |= int(Flags.user_excluded_in_scaling)
    out["flags"] = flags
    if "shoebox" in out:
        del out["shoebox"]
    return out


def store_models(experiments, result) -> None:
    """Put each data set's model (and the error model, Imid) into ``experiment.scaling_model``."""
    for i, (e, model) in enumerate(zip(experiments, result.joint.models)):
        d = model.to_dict()
        config = d.setdefault("configuration_parameters", {})
        k = result.error_model_of_dataset[i] if result.error_model_of_dataset else None
        if k is not None and result.error_models[k].refined:
            em = result.error_models[k]
            config["error_model_type"] = "BasicErrorModel"
            config["error_model_parameters"] = [float(em.a), float(em.b)]
        if result.imid is not None:
            config["Imid"] = float(result.imid)
        config["space_group"] = result.data.space_group
        e.scaling_model = d
        if e.crystal is not None and e.crystal.space_group is not None and \
                e.crystal.space_group.xhm() != result.data.space_group:
            e.crystal.set_space_group(result.data.space_group)
