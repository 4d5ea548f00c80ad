"""Columnar reflection table with DIALS column names and flag values.

Columns are numpy arrays of equal length (vectors as (n, 3), bounding boxes as (n, 6));
the ``shoebox`` column is a :class:`~friedel.shoebox.Shoeboxes`. ``experiment_identifiers``
maps the integer ``id`` column to experiment identifier strings.

>>> t = ReflectionTable({"id": np.zeros(3, int), "d": np.array([3.0, 2.0, 1.5])})
>>> len(t.select(t["d"] > 1.8))
2
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from friedel.flags import Flags
from friedel.shoebox import Shoeboxes

# Internal dtypes of well-known columns; DIALS's std::size_t columns are held as int64 so
# that arithmetic with other integer columns stays integral.
COLUMN_DTYPES = {
    "id": np.int32,
    "imageset_id": np.int32,
    "panel": np.int64,
    "flags": np.int64,
    "partial_id": np.int64,
    "bbox": np.int32,
    "miller_index": np.int32,
    "entering": bool,
}


class ReflectionTable:
    def __init__(self, columns: dict | None = None, experiment_identifiers: dict | None = None):
        self._columns: dict[str, object] = {}
        self.column_types: dict[str, str] = {}  # DIALS type names of columns read from files
        self.experiment_identifiers: dict[int, str] = dict(experiment_identifiers or {})
        self._nrows: int | None = None
        for name, values in (columns or {}).items():
            self[name] = values

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def empty(cls, nrows: int) -> "ReflectionTable":
        table = cls()
        table._nrows = int(nrows)
        return table

    def copy(self) -> "ReflectionTable":
        return self.select(np.arange(len(self)))

    # -- container protocol -----------------------------------------------------------------
    def __len__(self) -> int:
        return self._nrows or 0

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def keys(self) -> list[str]:
        return list(self._columns)

    def items(self):
        return self._columns.items()

    def __getitem__(self, name: str):
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"reflection table has no column {name!r}; columns: {', '.join(self.keys())}") from None

    def __setitem__(self, name: str, values) -> None:
        if not isinstance(values, Shoeboxes):
            dtype = COLUMN_DTYPES.get(name)
            values = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
            if values.ndim == 0:
                values = np.full(len(self), values)
        n = len(values)
        if self._nrows is None or (not self._columns and self._nrows == 0):
            self._nrows = n
        elif n != self._nrows:
            raise ValueError(f"column {name!r} has {n} rows, the table has {self._nrows}")
        self._columns[name] = values

    def __delitem__(self, name: str) -> None:
        del self._columns[name]
        self.column_types.pop(name, None)

    def get(self, name: str, default=None):
        return self._columns.get(name, default)

    # -- selection and combination ----------------------------------------------------------
    def select(self, selection) -> "ReflectionTable":
        """Rows chosen by a boolean mask or an integer index array (in that order)."""
        selection = np.asarray(selection)
        if selection.dtype == bool:
            if len(selection) != len(self):
                raise ValueError(f"selection has {len(selection)} entries, the table has {len(self)} rows")
            selection = np.flatnonzero(selection)
        out = ReflectionTable(experiment_identifiers=self.experiment_identifiers)
        out._nrows = len(selection)
        for name, col in self._columns.items():
            out._columns[name] = col.select(selection) if isinstance(col, Shoeboxes) else col[selection]
        out.column_types = dict(self.column_types)
        return out

    def extend(self, other: "ReflectionTable") -> None:
        """Append the rows of ``other`` (columns must match, or one table must be empty)."""
        if len(other) == 0:
            return
        if len(self) == 0 and not self._columns:
            self._columns = dict(other._columns)
            self._nrows = len(other)
            self.column_types.update(other.column_types)
            self.experiment_identifiers.update(other.experiment_identifiers)
            return
        if set(self.keys()) != set(other.keys()):
            missing = set(self.keys()) ^ set(other.keys())
            raise ValueError(f"cannot extend: columns differ ({', '.join(sorted(missing))})")
        for name in self.keys():
            a, b = self._columns[name], other._columns[name]
            self._columns[name] = Shoeboxes.concatenate([a, b]) if isinstance(a, Shoeboxes) else np.concatenate([a, b])
        self._nrows += len(other)
        for k, v in other.experiment_identifiers.items():
            if self.experiment_identifiers.get(k, v) != v:
                raise ValueError(f"experiment id {k} maps to two identifiers: {self.experiment_identifiers[k]} and {v}")
            self.experiment_identifiers[k] = v
        self.column_types.update(other.column_types)

    @classmethod
    def concatenate(cls, tables: Iterable["ReflectionTable"]) -> "ReflectionTable":
        out = cls()
        for t in tables:
            out.extend(t)
        return out

    def sort(self, column: str, reverse: bool = False) -> "ReflectionTable":
        """A copy sorted (stably) on a column; vector columns sort lexicographically by row."""
        values = self[column]
        order = np.lexsort(values.T[::-1]) if values.ndim == 2 else np.argsort(values, kind="stable")
        return self.select(order[::-1] if reverse else order)

    def split_by_experiment(self) -> dict[int, "ReflectionTable"]:
        """One table per experiment id (``id`` column), ids with -1 left out."""
        ids = self["id"]
        out = {}
        for i in np.unique(ids):
            if i < 0:
                continue
            sub = self.select(ids == i)
            sub.experiment_identifiers = (
                {int(i): self.experiment_identifiers[int(i)]} if int(i) in self.experiment_identifiers else {}
            )
            out[int(i)] = sub
        return out

    # -- flags --------------------------------------------------------------------------------
    def _flags(self) -> np.ndarray:
        if "flags" not in self:
            self["flags"] = np.zeros(len(self), dtype=np.int64)
        return self._columns["flags"]

    def get_flags(self, flag: int, all: bool = True) -> np.ndarray:  # noqa: A002 - DIALS name
        """Rows with all (or, with ``all=False``, any) of the bits in ``flag`` set."""
        f = self._flags() & int(flag)
        return f == int(flag) if all else f != 0

    def set_flags(self, selection, flag: int) -> None:
        flags = self._flags()
        flags[np.asarray(selection)] |= int(flag)

    def unset_flags(self, selection, flag: int) -> None:
        flags = self._flags()
        flags[np.asarray(selection)] &= ~int(flag)

    def flag_counts(self) -> dict[str, int]:
        flags = self._flags()
        single = [f for f in Flags if f.value & (f.value - 1) == 0]
        return {f.name: int(np.count_nonzero(flags & f.value)) for f in single}

    # -- experiments ----------------------------------------------------------------------------
    def assign_identifiers(self, experiments) -> None:
        """Map every id present to the identifier of that experiment."""
        for i in np.unique(self["id"]) if "id" in self else []:
            if 0 <= i < len(experiments):
                self.experiment_identifiers[int(i)] = experiments[int(i)].ensure_identifier()

    def __repr__(self) -> str:
        return f"ReflectionTable({len(self)} rows, columns: {', '.join(self.keys())})"
