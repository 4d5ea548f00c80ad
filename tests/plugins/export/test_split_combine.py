"""friedel split_experiments / combine_experiments: ids renumbered, identifiers kept unique."""

import copy

import numpy as np

from friedel.cli.main import main
from friedel.io import read_experiments, read_reflections, write_experiments, write_reflections


def test_split_and_combine_round_trip(in_tmp_dir, two_lattices):
    experiments, reflections = two_lattices
    experiments[1].beam = copy.deepcopy(experiments[1].beam)
    experiments[1].beam.wavelength *= 1.02
    write_experiments(experiments, "two.expt")
    write_reflections(reflections, "two.refl")
    assert main(["split_experiments", "two.expt", "two.refl"]) == 0
    parts = [(read_experiments(f"split_{i}.expt"), read_reflections(f"split_{i}.refl")) for i in (0, 1)]
    for i, (e, r) in enumerate(parts):
        assert len(e) == 1 and e[0].identifier == experiments[i].identifier
        assert np.all(r["id"] == 0) and r.experiment_identifiers == {0: experiments[i].identifier}
        assert len(r) == int((reflections["id"] == i).sum())
    # combined again in the other order: ids follow the new order, identifiers travel with them
    assert main(["combine_experiments", "split_1.expt", "split_1.refl", "split_0.expt", "split_0.refl"]) == 0
    e, r = read_experiments("combined.expt"), read_reflections("combined.refl")
    assert e.identifiers() == [experiments[1].identifier, experiments[0].identifier]
    assert r.experiment_identifiers == {0: experiments[1].identifier, 1: experiments[0].identifier}
    back = {ident: np.sort(r["intensity.sum.value"][r["id"] == i]) for i, ident in r.experiment_identifiers.items()}
    for i, x in enumerate(experiments):
        assert np.array_equal(back[x.identifier], np.sort(reflections["intensity.sum.value"][reflections["id"] == i]))
    # by wavelength: the two lattices (different wavelengths) separate; within a tolerance they stay together
    assert main(["split_experiments", "two.expt", "two.refl", "by=wavelength", "output.prefix=wl"]) == 0
    assert len(read_experiments("wl_0.expt")) == 1 and len(read_experiments("wl_1.expt")) == 1
    assert main(["split_experiments", "two.expt", "two.refl", "by=wavelength", "wavelength_tolerance=0.1",
                 "output.prefix=one"]) == 0
    assert len(read_experiments("one_0.expt")) == 2


def test_combining_a_copy_of_a_file_makes_identifiers_unique(in_tmp_dir, tiny_integrated, capsys):
    experiments, reflections = tiny_integrated
    for name in ("a", "b"):  # b is a copy of a: the same identifiers in two files
        write_experiments(experiments, f"{name}.expt")
        write_reflections(reflections, f"{name}.refl")
    # the very same file twice would count its data twice: refused
    assert main(["combine_experiments", "a.expt", "a.refl", "a.expt", "a.refl"]) != 0
    capsys.readouterr()
    assert main(["combine_experiments", "a.expt", "a.refl", "b.expt", "b.refl"]) == 0
    e, r = read_experiments("combined.expt"), read_reflections("combined.refl")
    assert len(set(e.identifiers())) == 2 and e.identifiers()[0] == experiments[0].identifier
    assert len(r) == 2 * len(reflections) and sorted(np.unique(r["id"])) == [0, 1]
    assert r.experiment_identifiers == {0: e[0].identifier, 1: e[1].identifier}
    # the combined file exports with distinct batches for the two copies
    assert main(["combine_experiments", "a.expt", "a.refl", "b.expt", "b.refl"]) != 0  # exists
    assert "overwrite=True" in capsys.readouterr().err
    assert main(["combine_experiments", "a.expt", "a.refl", "a.expt"]) != 0  # unpaired
