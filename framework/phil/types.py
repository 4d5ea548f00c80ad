"""Value types of parameters: parsing text into checked values, and formatting them back."""

from __future__ import annotations

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

    def __init__(self, min=None, max=None):  # noqa: A002
        self.min, self.max = min, max

    def parse(self, text):
        try:
            value = self.cast(text.strip())
        except ValueError:
            raise ValueError(f"'{text}' is not {self.what}") from None
        return self.validate(value)

    def validate(self, value):
        if value is None:
            return value
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
