"""Text tables for the log and the JSON summary of ``friedel symmetry`` / ``friedel cosym``."""

from __future__ import annotations

import json

import numpy as np

from friedel.io.atomic import atomic_write


def table(header, rows, title: str = "") -> str:
    """A plain text table with a rule under the header; numbers right-aligned."""
    cells = [[str(h) for h in header]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(r):
        out = []
        for v, w in zip(r, widths):
            numeric = v.replace(".", "", 1).replace("-", "", 1).isdigit()
            out.append(v.rjust(w) if numeric else v.ljust(w))
        return "  ".join(out).rstrip()

    lines = ([title] if title else []) + [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def _f(x, digits=3):
    return "" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def element_table(elements) -> str:
    rows = []
    for e in elements:
        d = e.as_dict()
        rows.append((_f(d["likelihood"]), _f(d["z_cc"], 2), _f(d["cc"], 2), d["n"], d["stars"],
                     f"{d['operator']}  ({d['hkl']})"))
    return table(("likelihood", "Z-CC", "CC", "N", "", "Operator"), rows, "Scoring individual symmetry elements")


def subgroup_rows(subgroups, settings_by_keys, input_cb=None) -> list[dict]:
    """Subgroup scores joined with their settings (Patterson group, cb_op, cell); ``cb_op`` is
    from the input setting when ``input_cb`` (input -> lattice standard setting) is given, else
    from the lattice's standard setting."""
    out = []
    for s in subgroups:
        st = settings_by_keys[s.keys]
        cb = st.cb_op if input_cb is None else input_cb.then(st.cb_op)
        d = s.as_dict()
        d.update({"patterson_group": st.patterson_group, "max_angular_difference": round(float(st.max_delta), 3),
                  "cb_op": cb.as_abc(), "unit_cell": [round(float(v), 4) for v in st.unit_cell]})
        out.append(d)
    return out


def subgroup_table(rows: list[dict]) -> str:
    body = [(r["patterson_group"], r["stars"], _f(r["likelihood"]), _f(r["net_z_cc"], 2), _f(r["z_cc_for"], 2),
             _f(r["z_cc_against"], 2), _f(r["cc_for"], 2), _f(r["cc_against"], 2),
             _f(r["max_angular_difference"], 1), r["cb_op"], " ".join(f"{v:.2f}" for v in r["unit_cell"]))
            for r in rows]
    return table(("Patterson group", "", "Likelihood", "NetZcc", "Zcc+", "Zcc-", "CC", "CC-", "delta",
                  "Reindex operator", "Unit cell"), body, "Scoring all possible sub-groups (best first)")


def absence_tables(absences) -> str:
    if absences is None:
        return ""
    parts = []
    if absences.tests:
        rows = [(t.name, _f(t.score), t.n_present, t.n_absent, _f(t.mean_i_present, 1), _f(t.mean_i_absent, 1),
                 _f(t.mean_isig_present, 2), _f(t.mean_isig_absent, 2)) for t in absences.tests]
        parts.append(table(("Screw axis", "Score", "No. present", "No. absent", "<I> present", "<I> absent",
                            "<I/sig> present", "<I/sig> absent"), rows, "Systematic absences of screw axes"))
        parts.append(table(("Space group", "score"), [(s, _f(v, 4)) for s, v, _r in absences.candidates]))
    if absences.message:
        parts.append(absences.message)
    parts.append(f"Recommended space group: {absences.space_group}")
    return "\n\n".join(parts)


def header_lines(analysis) -> str:
    if analysis is None or not hasattr(analysis, "cc_sig_fac"):
        return ""
    a = analysis
    lines = [
        f"Overall CC for {a.n_unrelated} unrelated pairs: {_f(a.cc_unrelated)}",
        f"Estimated expectation value of true correlation coefficient E(CC) = {_f(a.cc_true)}",
        f"Estimated sd(CC) = {_f(a.cc_sig_fac)} / sqrt(N)",
    ]
    if a.n_identity:
        lines.append(f"Estimated E(CC) of true correlation coefficient from identity = {_f(a.cc_identity)} "
                     f"({a.n_identity} pairs of repeated observations)")
    return "\n".join(lines)


def write_json(path: str, summary: dict) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(summary, fh, indent=1, default=_json_default)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
