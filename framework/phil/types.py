"""Value types of parameters: parsing text into checked values, and formatting them back."""

from __future__ import annotations

import math
import os
import re

from friedel.errors import ParameterError

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
NONE_WORDS = {"none", "null"}


class ValueType:
    """Base class: ``parse`` turns user text into a value, ``format`` turns it back into text."""

    name = "str"

    def parse(self, text: str):
        return text

    def format(self, value) -> str:
        return "None" if value is None else str(value)

    def validate(self, value):
        """Check a value given in Python (defaults, dicts); return it, normalised."""
        return value


class Str(ValueType):
    name = "str"

    def parse(self, text):
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1]
        return text


class Bool(ValueType):
    name = "bool"

    def parse(self, text):
        t = text.strip().lower()
        if t in TRUE_WORDS:
            return True
        if t in FALSE_WORDS:
            return False
        raise ValueError(f"'{text}' is not True or False")

    def format(self, value):
        return "None" if value is None else ("True" if value else "False")


class _Number(ValueType):
    """A number with optional bounds; subclasses set ``cast`` and ``what``."""

    cast = float
    what = "a number"

    def __init__(self, min=None, max=None, above=None):  # noqa: A002
        self.min, self.max, self.above = min, max, above

    def parse(self, text):
        try:
            value = self.cast(text.strip())
        except ValueError:
            raise ValueError(f"'{text}' is not {self.what}") from None
        if not math.isfinite(value):  # nan and inf pass every bound check below
            raise ValueError(f"'{text.strip()}' is not a finite number")
        return self.validate(value)

    def validate(self, value):
        if value is None:
            return value
        if self.above is not None and not value > self.above:
            raise ValueError(f"{value} must be greater than {self.above}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{value} is below the minimum {self.min}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{value} is above the maximum {self.max}")
        return self.cast(value)


class Int(_Number):
    name = "int"
    cast = int
    what = "a whole number"


class Float(_Number):
    name = "float"
    cast = float
    what = "a number"


class IntOrAuto(Int):
    """A whole number or ``Auto`` (kept as the string "Auto"), e.g. ``nproc=Auto``."""

    name = "int(Auto)"

    def parse(self, text):
        if text.strip().lower() == "auto":
            return "Auto"
        try:
            return super().parse(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a whole number or Auto") from None

    def validate(self, value):
        return value if value == "Auto" else super().validate(value)


class Floats(ValueType):
    """A list of numbers separated by commas or spaces, optionally of a fixed length."""

    def __init__(self, size=None, min=None):  # noqa: A002
        self.size, self.min = size, min
        self.name = f"floats(size={size})" if size else "floats"

    def parse(self, text):
        parts = [p for p in text.replace(",", " ").split() if p]
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"'{text}' is not a list of numbers") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"'{text.strip()}' holds a number that is not finite (nan or inf)")
        return self.validate(values)

    def validate(self, value):
        if value is None:
            return value
        value = tuple(float(v) for v in value)
        if self.size is not None and len(value) != self.size:
            raise ValueError(f"expected {self.size} numbers, got {len(value)}")
        if self.min is not None and any(v < self.min for v in value):
            raise ValueError(f"values must be at least {self.min}")
        return value

    def format(self, value):
        return "None" if value is None else ",".join(f"{v:g}" for v in value)


class Ints(Floats):
    def __init__(self, size=None, min=None):  # noqa: A002
        super().__init__(size, min)
        self.name = f"ints(size={size})" if size else "ints"

    def parse(self, text):
        parts = [p for p in text.replace(",", " ").split() if p]
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"'{text}' is not a list of whole numbers") from None
        return self.validate(values)

    def validate(self, value):
        if value is None:
            return value
        value = tuple(int(v) for v in value)
        if self.size is not None and len(value) != self.size:
            raise ValueError(f"expected {self.size} whole numbers, got {len(value)}")
        return value

    def format(self, value):
        return "None" if value is None else ",".join(str(v) for v in value)


class UnitCell(Floats):
    """Six cell parameters a, b, c (Angstrom), alpha, beta, gamma (degrees)."""

    name = "unit_cell"

    def __init__(self):
        super().__init__(size=6)
        self.name = "unit_cell"

    def validate(self, value):
        if value is None:
            return value
        try:
            value = super().validate(value)
        except ValueError:
            raise ValueError("a unit cell needs six numbers: a,b,c,alpha,beta,gamma") from None
        a, b, c, al, be, ga = value
        if min(a, b, c) <= 0 or not all(0 < x < 180 for x in (al, be, ga)):
            raise ValueError(f"{value} is not a unit cell (lengths > 0, angles between 0 and 180)")
        import gemmi  # imported when a cell is given, not at start-up

        try:
            gemmi.UnitCell(*value).volume
        except Exception:  # pragma: no cover - gemmi rejects impossible angle sets
            raise ValueError(f"{value} is not a possible unit cell") from None
        return value


class SpaceGroup(ValueType):
    """A space group symbol or number, checked with gemmi; kept as its short name."""

    name = "space_group"

    def parse(self, text):
        return self.validate(text.strip())

    def validate(self, value):
        if value is None:
            return value
        import gemmi

        try:
            sg = gemmi.SpaceGroup(str(value).strip())
        except (ValueError, RuntimeError):
            raise ValueError(f"'{value}' is not a space group symbol (e.g. P41212, 'P 41 21 2' or 92)") from None
        return sg.xhm()


class Choice(ValueType):
    """One of a fixed set of words (a callable giving the set is allowed, e.g. from the registry)."""

    def __init__(self, options):
        self._options = options
        self.name = "choice"

    @property
    def options(self) -> list[str]:
        return list(self._options() if callable(self._options) else self._options)

    def parse(self, text):
        return self.validate(Str().parse(text))

    def validate(self, value):
        if value is None:
            return value
        if value not in self.options:
            raise ValueError(f"'{value}' is not one of: {', '.join(self.options)}")
        return value


class Choices(Choice):
    """Several words from a set, written ``a,b``, ``a+b`` or ``"a b"`` (``None``: none), kept in order.

    The set may be a callable (e.g. plugin names from the registry).
    """

    def __init__(self, options):
        super().__init__(options)
        self.name = "choices"

    def parse(self, text):
        words = [w for w in re.split(r"[\s,+]+", Str().parse(text)) if w]
        if len(words) == 1 and words[0].lower() in NONE_WORDS:
            return []
        return self.validate(words)

    def validate(self, value):
        if value is None:
            return []
        value = [value] if isinstance(value, str) else list(value)
        options = self.options
        for v in value:
            if v not in options:
                raise ValueError(f"'{v}' is not one of: {', '.join(options)}")
        return value

    def format(self, value):
        return ",".join(value) if value else "None"


class Path(Str):
    name = "path"

    def parse(self, text):
        return os.path.expanduser(super().parse(text))


#: parameters that are lengths or limits by their name (Angstrom, mm, s): only positive values make
#: sense, whichever plugin declares them (``d_min=-1``, ``max_cell=-5`` are refused as typed)
POSITIVE_NAMES = frozenset({"d_min", "d_max", "d_min_start", "max_cell", "min_cell", "wavelength", "distance",
                            "px_size", "max_cell_multiplier"})


#: random seeds: numpy takes only non-negative ones
NON_NEGATIVE_NAMES = frozenset({"seed", "random_seed"})


def bounded_by_name(name: str, value_type: ValueType, default) -> ValueType:
    """``value_type`` with a lower bound of 0 (exclusive) for a parameter in :data:`POSITIVE_NAMES`
    whose own bound allows 0 or less, and of 0 (inclusive) for a seed (:data:`NON_NEGATIVE_NAMES`),
    unless the default contradicts it."""
    default_ok = default is None or (isinstance(default, (int, float)) and default > 0)
    if (name in POSITIVE_NAMES and type(value_type) in (Float, Int) and value_type.above is None
            and (value_type.min is None or value_type.min <= 0) and default_ok):
        return type(value_type)(min=None, max=value_type.max, above=0)
    if (name in NON_NEGATIVE_NAMES and type(value_type) is Int and value_type.min is None
            and (default is None or (isinstance(default, int) and default >= 0))):
        return Int(min=0, max=value_type.max)
    return value_type


def cell_contradicts_space_group(cell, space_group, length_tolerance=0.02, angle_tolerance=2.0) -> str | None:
    """Why the cell (a, b, c, alpha, beta, gamma) cannot be one of the space group's lattice, or None.

    The crystal system fixes equal lengths and 90/120 degree angles; the tolerances (2 %, 2
    degrees) leave room for a cell known only roughly.
    """
    import gemmi

    sg = gemmi.SpaceGroup(str(space_group))
    a, b, c, al, be, ga = (float(v) for v in cell)
    system = sg.crystal_system_str()
    if system == "trigonal" and sg.ext == "R" and sg.hm.startswith("R") and ":R" in sg.xhm():
        system = "rhombohedral"

    def same(x, y):
        return abs(x - y) <= length_tolerance * max(x, y)

    def angle(x, target):
        return abs(x - target) <= angle_tolerance

    rules = {
        "triclinic": [],
        "monoclinic": [(angle(al, 90) and angle(ga, 90), "alpha = gamma = 90")],
        "orthorhombic": [(angle(al, 90) and angle(be, 90) and angle(ga, 90), "all angles 90")],
        "tetragonal": [(same(a, b), "a = b"), (angle(al, 90) and angle(be, 90) and angle(ga, 90), "all angles 90")],
        "trigonal": [(same(a, b), "a = b"), (angle(al, 90) and angle(be, 90) and angle(ga, 120),
                                             "alpha = beta = 90, gamma = 120")],
        "hexagonal": [(same(a, b), "a = b"), (angle(al, 90) and angle(be, 90) and angle(ga, 120),
                                              "alpha = beta = 90, gamma = 120")],
        "rhombohedral": [(same(a, b) and same(b, c), "a = b = c"), (angle(al, be) and angle(be, ga),
                                                                    "alpha = beta = gamma")],
        "cubic": [(same(a, b) and same(b, c), "a = b = c"), (angle(al, 90) and angle(be, 90) and angle(ga, 90),
                                                            "all angles 90")],
    }
    broken = [what for ok, what in rules.get(system, []) if not ok]
    if broken:
        return (f"the unit cell {','.join(f'{v:g}' for v in cell)} is not {system} ({'; '.join(broken)}) "
                f"as space group {sg.xhm()} needs")
    return None


def parse_value(value_type: ValueType, text: str, optional: bool, path: str):
    """Parse ``text`` for the parameter at ``path``; errors name the parameter."""
    if optional and text.strip().lower() in NONE_WORDS:
        return None
    try:
        return value_type.parse(text)
    except ValueError as exc:
        raise ParameterError(f"bad value for {path}: {exc}") from None


def type_for_annotation(annotation) -> tuple[ValueType, bool]:
    """(value type, optional?) guessed from a field annotation such as ``float | None``."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = text.replace("typing.", "").replace("Optional[", "").replace("]", "")
    words = {w.strip() for w in text.split("|")}
    optional = "None" in words
    words.discard("None")
    simple = {"bool": Bool, "int": Int, "float": Float, "str": Str}
    if len(words) == 1 and (w := words.pop()) in simple:
        return simple[w](), optional
    return Str(), optional
