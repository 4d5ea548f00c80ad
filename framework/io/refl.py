"""Read and write DIALS reflection files (``.refl``, msgpack).

Layout: ``["dials::af::reflection_table", 1, {"identifiers": {id: str}, "nrows": N,
"data": {column: [type_name, [N, little-endian bytes]]}}]``. Shoeboxes pack, per row,
panel (uint32), bbox (6 x int32), a has-data byte and then float32 data, int32 mask and
float32 background over the box.
"""

from __future__ import annotations

import numpy as np
import msgpack

from friedel.errors import FileFormatError
from friedel.io.atomic import atomic_write
from friedel.reflection_table import COLUMN_DTYPES, ReflectionTable
from friedel.shoebox import Shoeboxes

# DIALS type name -> (numpy dtype on disk, number of values per row)
TYPES = {
    "int": ("<i4", 1),
    "double": ("<f8", 1),
    "std::size_t": ("<u8", 1),
    "bool": ("|b1", 1),
    "int6": ("<i4", 6),
    "vec2<double>": ("<f8", 2),
    "vec3<double>": ("<f8", 3),
    "mat3<double>": ("<f8", 9),
    "cctbx::miller::index<>": ("<i4", 3),
}
SIZE_T_COLUMNS = {"flags", "panel", "partial_id"}
MAGIC = "dials::af::reflection_table"


def _decode_column(name: str, type_name: str, payload) -> object:
    n, raw = payload
    if type_name == "Shoebox<>":
        return _decode_shoeboxes(n, raw)
    if type_name == "std::string":
        return np.array([s.decode() if isinstance(s, bytes) else s for s in raw], dtype=object)
    if type_name not in TYPES:
        raise FileFormatError(f"column {name!r} has type {type_name!r}, which friedel cannot read")
    dtype, width = TYPES[type_name]
    values = np.frombuffer(raw, dtype=dtype)
    if len(values) != n * width:
        raise FileFormatError(f"column {name!r} is truncated ({len(values)} values for {n} rows)")
    values = values.reshape(n, width) if width > 1 else values
    if type_name == "mat3<double>":
        values = values.reshape(n, 3, 3)
    target = COLUMN_DTYPES.get(name)
    if type_name == "std::size_t":
        target = np.int64
    return values.astype(target if target is not None else values.dtype.newbyteorder("="), copy=True)


def _decode_shoeboxes(n: int, raw: bytes) -> Shoeboxes:
    # Headers are variable-length apart, so walk once to find them (a cheap Python loop over
    # rows, not pixels), then decode all pixel blocks with vectorised gathers.
    buf = np.frombuffer(raw, dtype=np.uint8)
    header = np.dtype([("panel", "<u4"), ("bbox", "<i4", 6), ("has", "u1")])
    panel = np.empty(n, np.int64)
    bbox = np.empty((n, 6), np.int32)
    has = np.empty(n, bool)
    starts = np.empty(n, np.int64)
    off = 0
    for i in range(n):
        if off + 29 > len(raw):
            raise FileFormatError("shoebox column is truncated or corrupt")
        h = np.frombuffer(raw, dtype=header, count=1, offset=off)[0]
        panel[i], bbox[i], has[i] = h["panel"], h["bbox"], h["has"]
        off += 29
        starts[i] = off
        if h["has"]:
            b = [int(v) for v in h["bbox"]]  # Python ints: a damaged box must not overflow int32
            off += 12 * max(b[1] - b[0], 0) * max(b[3] - b[2], 0) * max(b[5] - b[4], 0)
    if off != len(raw):
        raise FileFormatError("shoebox column is truncated or corrupt")
    boxes = Shoeboxes(panel, bbox, has_data=has)
    sizes = boxes.offsets[1:] - boxes.offsets[:-1]
    # gather in chunks of rows: the byte indices are 8 bytes per pixel byte, so doing all rows
    # at once would hold ~100 bytes per pixel (GBs for the strong spots of a long sweep)
    first = 0
    while first < n:
        last = int(np.searchsorted(boxes.offsets, boxes.offsets[first] + (1 << 21), "right"))
        last = min(max(last - 1, first + 1), n)
        lo, hi = boxes.offsets[first], boxes.offsets[last]
        sz = sizes[first:last]
        byte_index = np.repeat(starts[first:last] - 4 * boxes.offsets[first:last], sz * 4) + np.arange(4 * lo, 4 * hi)
        boxes.data[lo:hi] = buf[byte_index].view("<f4")
        boxes.mask[lo:hi] = buf[byte_index + np.repeat(4 * sz, 4 * sz)].view("<i4")
        boxes.background[lo:hi] = buf[byte_index + np.repeat(8 * sz, 4 * sz)].view("<f4")
        first = last
    return boxes


def _encode_shoeboxes(boxes: Shoeboxes) -> bytes:
    parts = []
    for i in range(len(boxes)):
        parts.append(np.array(boxes.panel[i], "<u4").tobytes())
        parts.append(boxes.bbox[i].astype("<i4").tobytes())
        parts.append(bytes([1 if boxes.has_data[i] else 0]))
        if boxes.has_data[i]:
            lo, hi = boxes.offsets[i], boxes.offsets[i + 1]
            parts.append(boxes.data[lo:hi].astype("<f4").tobytes())
            parts.append(boxes.mask[lo:hi].astype("<i4").tobytes())
            parts.append(boxes.background[lo:hi].astype("<f4").tobytes())
    return b"".join(parts)


def dials_type(name: str, values, known: dict) -> str:
    """The DIALS type name for a column (as read, by well-known name, else by dtype/shape)."""
    if isinstance(values, Shoeboxes):
        return "Shoebox<>"
    if name in known:
        return known[name]
    if name in SIZE_T_COLUMNS:
        return "std::size_t"
    if name == "miller_index":
        return "cctbx::miller::index<>"
    if name == "bbox":
        return "int6"
    if values.dtype == object:
        return "std::string"
    if values.dtype == bool:
        return "bool"
    width = 1 if values.ndim == 1 else int(np.prod(values.shape[1:]))
    if np.issubdtype(values.dtype, np.integer):
        if width == 1:
            return "int"
        if width == 6:
            return "int6"
        if width == 3:
            return "cctbx::miller::index<>"
    elif np.issubdtype(values.dtype, np.floating):
        return {1: "double", 2: "vec2<double>", 3: "vec3<double>", 9: "mat3<double>"}[width]
    raise ValueError(f"column {name!r} of dtype {values.dtype} and shape {values.shape} has no DIALS type")


def _encode_column(type_name: str, values) -> list:
    if type_name == "Shoebox<>":
        return [len(values), _encode_shoeboxes(values)]
    if type_name == "std::string":
        return [len(values), [str(s) for s in values]]
    dtype, _ = TYPES[type_name]
    return [len(values), np.ascontiguousarray(values, dtype=dtype).tobytes()]


def reflections_to_bytes(table: ReflectionTable) -> bytes:
    data = {}
    for name in sorted(table.keys()):
        values = table[name]
        type_name = dials_type(name, values, table.column_types)
        data[name] = [type_name, _encode_column(type_name, values)]
    identifiers = {int(k): v for k, v in sorted(table.experiment_identifiers.items())}
    return msgpack.packb([MAGIC, 1, {"identifiers": identifiers, "nrows": len(table), "data": data}])


def reflections_from_bytes(raw: bytes, source: str = "<bytes>") -> ReflectionTable:
    if not raw:
        raise FileFormatError(f"{source} is empty (0 bytes); make it again with the step that wrote it")
    try:
        obj = msgpack.unpackb(raw, strict_map_key=False)
    except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError,
            UnicodeDecodeError, OverflowError) as exc:
        if "incomplete input" in str(exc):
            raise FileFormatError(f"{source} is truncated (its data end early); make it again with the step "
                                  "that wrote it") from None
        raise FileFormatError(f"{source} is not a msgpack reflection file ({exc}); old pickle .refl files are not supported") from None
    if not (isinstance(obj, list) and len(obj) == 3 and obj[0] == MAGIC):
        raise FileFormatError(f"{source} is not a DIALS reflection table")
    if obj[1] != 1:
        raise FileFormatError(f"{source} has reflection-table version {obj[1]}; friedel reads version 1")
    try:
        return _table_from_body(obj[2])
    except FileFormatError as exc:
        raise FileFormatError(f"{source}: {exc}; the file is damaged") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, UnicodeDecodeError) as exc:
        # flipped bytes give msgpack that decodes to the wrong shapes
        raise FileFormatError(f"{source} is a damaged reflection file ({type(exc).__name__}: {exc}); make it "
                              "again with the step that wrote it") from None


def _table_from_body(body) -> ReflectionTable:
    nrows = body["nrows"]
    if not isinstance(nrows, int) or nrows < 0:
        raise FileFormatError(f"the row count {nrows!r} is not a number of rows")
    table = ReflectionTable.empty(nrows)
    table.experiment_identifiers = {int(k): str(v) for k, v in (body.get("identifiers") or {}).items()}
    for name, (type_name, payload) in body["data"].items():
        if not isinstance(name, str):
            raise FileFormatError(f"a column name {name!r} is not text")
        if payload[0] != nrows:
            raise FileFormatError(f"column {name!r} has {payload[0]} rows, the table {nrows}")
        table[name] = _decode_column(name, type_name, payload)
        table.column_types[name] = type_name
    return table


def read_reflections(path: str) -> ReflectionTable:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise FileFormatError(f"reflection file {path} does not exist") from None
    return reflections_from_bytes(raw, path)


def write_reflections(table: ReflectionTable, path: str) -> None:
    """Write ``table`` to ``path`` atomically in DIALS msgpack layout."""
    raw = reflections_to_bytes(table)
    with atomic_write(path, "wb") as handle:
        handle.write(raw)
