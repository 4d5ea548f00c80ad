"""Property-based fuzzing of friedel's parsers: damaged input gives a clear format error, never a
crash of another kind, never a hang, never a huge allocation.

Bounded for CI: few examples per property and a deadline per example, so the module runs in
a few seconds. Raise ``FRIEDEL_FUZZ_EXAMPLES`` for a longer hunt.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from friedel.errors import FileFormatError, FriedelError, ParameterError  # noqa: E402

EXAMPLES = int(os.environ.get("FRIEDEL_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def compiled():
    """Load the numba kernels before the timed examples (the first call would miss the deadline)."""
    from friedel.formats.cbf import parse_pilatus_header
    from friedel.formats.cbf_codec import compress_byte_offset, decompress_byte_offset

    decompress_byte_offset(compress_byte_offset(np.arange(3)), 3)
    parse_pilatus_header("# Wavelength 1.0 A")


@st.composite
def damage(draw, data: bytes, max_flips: int = 20):
    """``data`` truncated at a random point and/or with random bytes changed or inserted."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, max_flips))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        buf = buf[:draw(st.integers(0, len(buf)))]
    if draw(st.booleans()):
        i = draw(st.integers(0, len(buf)))
        buf[i:i] = draw(st.binary(max_size=16))
    return bytes(buf)


# -- CBF: byte-offset codec and header --------------------------------------------------------

@FUZZ
@given(st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=300))
def test_byte_offset_round_trip(values):
    from friedel.formats.cbf_codec import compress_byte_offset, decompress_byte_offset

    data = np.array(values, dtype=np.int32)
    assert np.array_equal(decompress_byte_offset(compress_byte_offset(data), data.size, exact=True), data)


@FUZZ
@given(st.binary(max_size=400), st.integers(-5, 10**12))
def test_byte_offset_of_random_bytes(raw, n):
    from friedel.formats.cbf_codec import decompress_byte_offset

    try:
        out = decompress_byte_offset(raw, n, exact=True)
    except FileFormatError:
        return
    assert out.size == n <= len(raw)


@pytest.fixture(scope="module")
def small_cbf(tmp_path_factory):
    from friedel.formats.cbf import write_minicbf

    path = tmp_path_factory.mktemp("cbf") / "small_0001.cbf"
    rng = np.random.default_rng(0)
    write_minicbf(path, rng.poisson(3.0, size=(40, 30)).astype(np.int32), distance_mm=150.0)
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_damaged_minicbf(small_cbf, tmp_path, data):
    from friedel.formats.base import open_file

    path = tmp_path / "small_0001.cbf"
    raw = data.draw(damage(small_cbf))
    path.write_bytes(raw)
    try:
        reader = open_file(path)
        image = reader.get_raw_data(0)[0]
    except FriedelError as exc:
        assert "small_0001.cbf" in str(exc)
        return
    # accepted: only if the pixels are the ones written (the MD5 and sizes guard them)
    assert image.shape == (40, 30)


@FUZZ
@given(st.text(max_size=300))
def test_pilatus_header_text(text):
    from friedel.formats.cbf import parse_pilatus_header

    assert isinstance(parse_pilatus_header("\n".join("# " + line for line in text.splitlines())), dict)


@FUZZ
@given(key=st.sampled_from(["X-Binary-Size", "X-Binary-Number-of-Elements", "X-Binary-Size-Fastest-Dimension",
                            "X-Binary-Size-Second-Dimension", "Content-MD5"]),
       value=st.one_of(st.integers(-10, 10**12).map(str), st.text(max_size=12)))
def test_binary_header_fields(small_cbf, key, value):
    import re

    from friedel.formats.cbf import decode_binary_sections

    line = (key + ": " + value.replace("\r", "").replace("\n", "")).encode("utf-8", "replace")
    raw = re.sub(re.escape(key).encode() + rb":[^\r\n]*", lambda _: line, small_cbf)
    try:
        sections = decode_binary_sections(raw, "small_0001.cbf")
    except FileFormatError:
        return
    assert sections[0].data.shape == (40, 30)


# -- HDF5 / NXmx -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_nxmx(tmp_path_factory):
    """A two-image NXmx master with its data in the same file (written by friedel's NXmx writer)."""
    from friedel.cli.main import main

    folder = tmp_path_factory.mktemp("nx")
    cwd = os.getcwd()
    try:
        os.chdir(folder)
        assert main(["simulate", "preset=tiny", "scan.n_images=2", "output.format=nxmx", "seed=5"]) == 0
    finally:
        os.chdir(cwd)
    master = next(folder.glob("*master.h5"))
    return master, {p.name: p.read_bytes() for p in folder.glob("*.h5") if p != master}


@settings(parent=FUZZ, max_examples=max(5, EXAMPLES // 3))
@given(data=st.data())
def test_damaged_nxmx_master(small_nxmx, tmp_path, data):
    from friedel.formats.base import open_file

    master, others = small_nxmx
    for name, content in others.items():
        (tmp_path / name).write_bytes(content)
    path = tmp_path / master.name
    raw = master.read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), max_size=10))
    buf = bytearray(raw[:cut] if data.draw(st.booleans()) else raw)
    for i, x in flips:
        if i < len(buf):
            buf[i] ^= x
    path.write_bytes(bytes(buf))
    try:
        reader = open_file(path)
        for i in range(reader.num_images()):
            reader.get_raw_data(i)
        reader.close()
    except FriedelError as exc:
        assert master.name in str(exc)


# -- .expt JSON --------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=8)


@pytest.fixture(scope="module")
def expt_dict(pipeline):
    return json.loads((pipeline / "indexed.expt").read_text())


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@FUZZ
@given(data=st.data())
def test_mutated_expt(expt_dict, tmp_path, data):
    import copy

    from friedel.io import read_experiments

    d = copy.deepcopy(expt_dict)
    paths = [p for p in _paths(d) if p]
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths))
        parent = d
        try:
            for k in path[:-1]:
                parent = parent[k]
            if data.draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue
    file = tmp_path / "mutated.expt"
    file.write_text(json.dumps(d))
    try:
        read_experiments(str(file))
    except FileFormatError as exc:
        assert "mutated.expt" in str(exc)


@FUZZ
@given(data=st.data())
def test_damaged_expt_bytes(pipeline, tmp_path, data):
    from friedel.io import read_experiments

    file = tmp_path / "damaged.expt"
    file.write_bytes(data.draw(damage((pipeline / "imported.expt").read_bytes())))
    try:
        read_experiments(str(file))
    except FileFormatError as exc:
        assert "damaged.expt" in str(exc)


# -- .refl msgpack -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_refl(pipeline):
    from friedel.io import read_reflections
    from friedel.io.refl import reflections_to_bytes

    table = read_reflections(str(pipeline / "strong.refl"))
    return reflections_to_bytes(table.select(np.arange(len(table)) < 40))


@FUZZ
@given(data=st.data())
def test_damaged_refl_bytes(small_refl, data):
    from friedel.io.refl import reflections_from_bytes

    try:
        table = reflections_from_bytes(data.draw(damage(small_refl)), "damaged.refl")
    except FileFormatError as exc:
        assert "damaged.refl" in str(exc)
        return
    assert all(len(table[name]) == len(table) for name in table.keys())


msgpack_values = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.binary(max_size=24)
                              | st.text(max_size=8),
                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                  st.text(max_size=6) | st.integers(-3, 3), inner, max_size=4), max_leaves=12)


@FUZZ
@given(body=msgpack_values, nrows=st.integers(-2, 2**40) | st.text(max_size=3))
def test_refl_structure(body, nrows):
    import msgpack

    from friedel.io.refl import MAGIC, reflections_from_bytes

    obj = [MAGIC, 1, {"identifiers": {}, "nrows": nrows, "data": body}]
    try:
        reflections_from_bytes(msgpack.packb(obj), "structure.refl")
    except FileFormatError as exc:
        assert "structure.refl" in str(exc)


# -- .phil ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index_tree():
    from friedel.cli.main import _commands
    from friedel.phil.tree import ParameterTree

    return ParameterTree(_commands()["index"].load().Params)


phil_pieces = st.sampled_from(["indexing", "{", "}", "=", "max_cell", "known_symmetry", "space_group", "P4",
                               "unit_cell", "79,79,38,90,90,90", "nan", "-5", "#", "\"", "refinement.",
                               "\n", " ", "d_min_start", "method", "fft3d", "..", "=="])


@FUZZ
@given(st.lists(phil_pieces, max_size=25).map("".join) | st.text(max_size=80))
def test_phil_text(index_tree, text):
    try:
        assignments = index_tree.parse_phil(text, "fuzz.phil")
        index_tree.extract(assignments)
    except ParameterError as exc:
        assert str(exc)
