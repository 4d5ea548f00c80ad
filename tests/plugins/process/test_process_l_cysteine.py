"""friedel process on real images: L-cysteine, two sweeps of 15 images of 0.1 deg (PILATUS 2M).

A small molecule: about 85 predicted reflections per sweep, 47 strong indexed spots in all.
The published cell (known_facts.json) must come out; the Laue group too, but not the screw axes:
these 1.5-degree sweeps measure no axial reflection, so absences cannot tell P 21 21 21 from
P 2 2 2 (dials.symmetry on the same files recommends P 2 2 2 as well). Given the published
space group, process passes it to indexing and symmetry and the merged MTZ carries it.
"""

import glob
import json
import os

import gemmi
import pytest

from friedel.cli.main import main

# integrate needs 20 strong spots per degree for its profile estimate (as dials.integrate does, which
# also stops on these sweeps: "got 11 per degree and 17 in total"); process passes the lower
# threshold through as any step parameter. Remove once integrate pools the spots of sweeps that
# share a crystal.
SPARSE_PROFILE = "integrate.profile.gaussian_rs.min_spots_per_degree=10"


@pytest.fixture(scope="module")
def l_cysteine(real_data):
    images = sorted(glob.glob(str(real_data / "images" / "l_cysteine" / "*.cbf.gz")))
    if len(images) != 30:
        pytest.skip(f"the 30 L-cysteine images are not in {real_data}/images/l_cysteine")
    facts = json.loads((real_data / "known_facts.json").read_text())["l_cysteine"]
    return images, facts


def _merged(folder="."):
    """The merged MTZ of the latest run (step numbers can differ between runs)."""
    summary = json.load(open(os.path.join(folder, "friedel.process.json"), encoding="utf-8"))
    return gemmi.read_mtz_file(os.path.join(folder, summary["outputs"]["merged_mtz"]))


def test_process_gives_the_published_cell_and_laue_group(l_cysteine, in_tmp_dir):
    images, facts = l_cysteine
    assert main(["process", *images, "nproc=1", SPARSE_PROFILE]) == 0
    mtz = _merged()
    assert mtz.spacegroup.point_group_hm() == "222"
    for value, published in zip(mtz.cell.parameters, facts["unit_cell"]):
        assert abs(value - published) < 0.01 * published + 0.05
    summary = json.load(open("friedel.process.json", encoding="utf-8"))
    assert summary["merging_statistics"]["overall"]["n_unique"] >= 50
    # the published space group, given, reaches the merged MTZ (and only index onwards runs again)
    assert main(["process", *images, "nproc=1", SPARSE_PROFILE, f"space_group={facts['space_group']}"]) == 0
    assert _merged().spacegroup.hm == gemmi.SpaceGroup(facts["space_group"]).hm
