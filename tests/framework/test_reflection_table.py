import numpy as np
import pytest

from friedel.flags import Flags
from friedel.reflection_table import ReflectionTable
from friedel.shoebox import Shoeboxes


def make_table(n=6):
    bbox = np.array([[0, 2, 0, 1, 0, 1]] * n) + np.arange(n)[:, None] * [1, 2, 0, 0, 0, 1]
    boxes = Shoeboxes(np.zeros(n), bbox)
    boxes.data[:] = np.arange(len(boxes.data))
    t = ReflectionTable({
        "id": np.array([0, 1, 0, -1, 1, 0][:n]),
        "d": np.linspace(5, 1, n),
        "miller_index": np.arange(3 * n).reshape(n, 3),
        "shoebox": boxes,
    })
    t.experiment_identifiers = {0: "a", 1: "b"}
    return t


def test_select_by_mask_and_index_keeps_shoebox_pixels():
    t = make_table()
    sel = t.select(t["d"] < 3)
    assert len(sel) == 3 and np.all(sel["d"] < 3)
    picked = t.select(np.array([4, 1]))
    assert np.array_equal(picked["shoebox"].data_of(0), t["shoebox"].data_of(4))
    assert np.array_equal(picked["shoebox"].data_of(1), t["shoebox"].data_of(1))
    with pytest.raises(ValueError):
        t.select(np.ones(3, bool))


def test_extend_sort_split_and_flags():
    t = make_table()
    t2 = make_table()
    t.extend(t2)
    assert len(t) == 12 and len(t["shoebox"]) == 12
    s = t.sort("d", reverse=True)
    assert np.all(np.diff(s["d"]) <= 0)
    parts = t.split_by_experiment()
    assert sorted(parts) == [0, 1] and len(parts[0]) == 6 and parts[1].experiment_identifiers == {1: "b"}
    t.set_flags(t["d"] > 2, Flags.indexed | Flags.strong)
    assert np.array_equal(t.get_flags(Flags.indexed), t["d"] > 2)
    t.unset_flags(np.ones(len(t), bool), Flags.strong)
    assert not t.get_flags(Flags.strong).any() and t.flag_counts()["indexed"] == np.count_nonzero(t["d"] > 2)


def test_column_length_mismatch_is_refused():
    t = make_table()
    with pytest.raises(ValueError, match="rows"):
        t["bad"] = np.zeros(2)
    with pytest.raises(KeyError, match="no column"):
        t["nope"]
