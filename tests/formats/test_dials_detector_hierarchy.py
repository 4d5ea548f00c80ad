"""Detector hierarchies in DIALS .expt files: dxtbx stores each panel in the frame of its group.

friedel keeps panels in the lab frame, so it must compose the group frames on reading and
write panels back in their group's frame (found on real files: the quartz ED detector's root
group is offset by (0.104, -0.156) mm, a 512x512 TimePix quad hangs its four panels on a root
group at the detector position).
"""
import json

import numpy as np
import pytest

from friedel.io import read_experiments, write_experiments


def test_real_file_with_an_offset_root_group(real_data, tmp_path):
    path = real_data / "spots" / "quartz_ED" / "imported.expt"
    raw = json.loads(path.read_text())["detector"][0]
    panel = read_experiments(str(path))[0].detector[0]
    local = np.array(raw["panels"][0]["origin"])
    root = np.array(raw["hierarchy"]["origin"])  # root axes are the lab axes in this file
    assert np.allclose(raw["hierarchy"]["fast_axis"], [1, 0, 0]) and np.allclose(raw["hierarchy"]["slow_axis"], [0, 1, 0])
    assert np.allclose(panel.origin, root + local)  # (-13.208, 13.156, -280.0)
    write_experiments(read_experiments(str(path)), str(tmp_path / "rt.expt"))
    again = json.loads((tmp_path / "rt.expt").read_text())["detector"][0]
    assert np.allclose(again["panels"][0]["origin"], local) and again["hierarchy"]["origin"] == raw["hierarchy"]["origin"]


def test_rotated_group_frames_compose_and_round_trip(tmp_path):
    # a root group turned 90 deg about z and moved, holding a sub-group with one panel
    node = {"name": "", "type": "", "raw_image_offset": [0, 0], "image_size": [0, 0], "pixel_size": [0.0, 0.0],
            "trusted_range": [0.0, 0.0], "thickness": 0.0, "material": "", "mu": 0.0, "identifier": "",
            "mask": [], "gain": 1.0, "pedestal": 0.0, "px_mm_strategy": {"type": "SimplePxMmStrategy"}}
    sub = dict(node, fast_axis=[1.0, 0.0, 0.0], slow_axis=[0.0, 1.0, 0.0], origin=[0.0, 0.0, -100.0],
               children=[{"panel": 0}])
    root = dict(node, fast_axis=[0.0, 1.0, 0.0], slow_axis=[-1.0, 0.0, 0.0], origin=[5.0, 6.0, 0.0],
                children=[sub])
    panel = dict(node, name="Panel", type="SENSOR_PAD", fast_axis=[1.0, 0.0, 0.0], slow_axis=[0.0, -1.0, 0.0],
                 origin=[-10.0, 20.0, 0.0], image_size=[100, 100], pixel_size=[0.1, 0.1],
                 trusted_range=[-1.0, 1e6], px_mm_strategy={"type": "SimplePxMmStrategy"})
    doc = {"__id__": "ExperimentList", "experiment": [{"__id__": "Experiment", "identifier": "x", "beam": 0,
                                                      "detector": 0}],
           "beam": [{"direction": [0.0, 0.0, 1.0], "wavelength": 1.0}],
           "detector": [{"panels": [panel], "hierarchy": root}]}
    (tmp_path / "h.expt").write_text(json.dumps(doc))
    p = read_experiments(str(tmp_path / "h.expt"))[0].detector[0]
    # root frame: f = +y, s = -x, n = f x s = +z; sub-group at -100 along n
    assert np.allclose(p.origin, [5 - 20.0, 6 - 10.0, -100.0])
    assert np.allclose(p.fast_axis, [0, 1, 0]) and np.allclose(p.slow_axis, [1, 0, 0])
    write_experiments(read_experiments(str(tmp_path / "h.expt")), str(tmp_path / "rt.expt"))
    out = json.loads((tmp_path / "rt.expt").read_text())["detector"][0]
    for key in ("origin", "fast_axis", "slow_axis"):
        assert out["panels"][0][key] == pytest.approx(panel[key], abs=1e-12)
