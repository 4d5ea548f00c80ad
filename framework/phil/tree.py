"""The parameter tree of one command: names, parsing, ``.phil`` files, display and diffs.

A tree is built from a command's master scope (an attrs class from :mod:`friedel.phil`);
plugin choices pull in the scopes of every registered plugin. Users set parameters as
``full.path=value`` or by any unique trailing part of the path (``nproc=4``), or in
``.phil`` files in the familiar brace syntax::

    spotfinder {
      threshold.algorithm = dispersion_extended
      filter { min_spot_size = 3 }
    }
    mp.nproc = 2   # comments run to the end of the line
"""

from __future__ import annotations

import difflib
import re
import textwrap

import attrs

from friedel.errors import ParameterError
from friedel.phil import ParamInfo, is_scope, types


@attrs.define
class Definition:
    """One parameter: its full dotted path, type, default and documentation."""

    path: str
    info: ParamInfo
    value_type: types.ValueType
    optional: bool
    default: object

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def parse(self, text: str):
        return types.parse_value(self.value_type, text, self.optional, self.path)

    def format(self, value) -> str:
        if self.info.multiple:
            return " ".join(self.value_type.format(v) for v in value) if value else "None"
        return self.value_type.format(value)


@attrs.define
class ScopeNode:
    path: str
    cls: type
    help: str
    children: dict = attrs.field(factory=dict)  # name -> ScopeNode | Definition
    plugin: bool = False  # a plugin's own scope, added beside its choice


def _scope_help(cls) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


class ParameterTree:
    """All parameters of a master scope, addressable by dotted paths."""

    def __init__(self, master: type, prefix: str = ""):
        if not is_scope(master):
            raise TypeError(f"{master!r} is not a parameter scope (decorate it with friedel.phil.scope)")
        self.master = master
        self.definitions: dict[str, Definition] = {}
        self.root = self._build(master, prefix)

    # -- building ---------------------------------------------------------------------------
    def _build(self, cls: type, path: str, plugin: bool = False) -> ScopeNode:
        node = ScopeNode(path, cls, _scope_help(cls), plugin=plugin)
        attrs.resolve_types(cls)
        for field in attrs.fields(cls):
            info: ParamInfo = field.metadata.get("friedel", ParamInfo())
            child_path = f"{path}.{field.name}" if path else field.name
            default = field.default
            if isinstance(default, attrs.Factory) and is_scope(default.factory):
                node.children[field.name] = self._build(default.factory, child_path)
                continue
            guessed, annotated_optional = types.type_for_annotation(field.type)
            value_type = types.bounded_by_name(field.name, info.value_type or guessed, default)
            if isinstance(default, attrs.Factory):
                default = default.factory()
            optional = info.optional if info.optional is not None else (annotated_optional or default is None)
            definition = Definition(child_path, info, value_type, optional, default)
            node.children[field.name] = definition
            self.definitions[child_path] = definition
            if info.plugin_point:
                self._add_plugin_scopes(node, info.plugin_point, path)
        for point in getattr(cls, "__friedel_plugin_points__", ()):
            self._add_plugin_scopes(node, point, path)
        return node

    def _add_plugin_scopes(self, node: ScopeNode, point: str, path: str) -> None:
        from friedel.plugin_manager import plugin_params_classes

        # refused plugins are left out (a plugin named like a parameter here is refused)
        for name, params in sorted(plugin_params_classes(point).items()):
            if name in node.children:
                continue
            node.children[name] = self._build(params, f"{path}.{name}" if path else name, plugin=True)

    # -- names ------------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """The full path for a full path or a unique trailing part of one."""
        name = name.strip()
        if name in self.definitions:
            return name
        matches = [p for p in self.definitions if p.endswith("." + name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ParameterError(f"parameter name '{name}' is ambiguous; use one of: {', '.join(sorted(matches))}")
        last = name.rsplit(".", 1)[-1]
        names = {p.rsplit(".", 1)[-1]: p for p in self.definitions}
        close = difflib.get_close_matches(last, list(names), n=3, cutoff=0.6)
        close_paths = [names[c] for c in close] or difflib.get_close_matches(name, list(self.definitions), n=3)
        hint = f"; did you mean {' or '.join(close_paths)}?" if close_paths else "; run with -c to list all parameters"
        raise ParameterError(f"unknown parameter '{name}'{hint}")

    # -- parsing ----------------------------------------------------------------------------
    def parse_assignment(self, text: str) -> tuple[str, object]:
        if "=" not in text:
            raise ParameterError(f"'{text}' is not a parameter assignment (expected name=value)")
        name, value = text.split("=", 1)
        path = self.resolve(name)
        return path, self.definitions[path].parse(value)

    def parse_phil(self, text: str, source: str = "<phil>") -> list[tuple[str, object]]:
        """Assignments from phil text in brace syntax (scopes may be abbreviated as paths)."""
        out, stack = [], []
        cleaned = "\n".join(_strip_comment(line) for line in text.splitlines())
        cleaned = re.sub(r"([{}])", r"\n\1\n", cleaned)
        for lineno, raw in enumerate(cleaned.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line == "}":
                if not stack:
                    raise ParameterError(f"{source}: unbalanced '}}'")
                stack.pop()
            elif line == "{":
                continue
            elif re.fullmatch(r"[\w.]+", line):  # a scope name; its "{" follows
                stack.append(line)
            elif "=" in line:
                name, value = line.split("=", 1)
                full = ".".join([*stack, name.strip()])
                try:
                    path = self.resolve(full)
                except ParameterError as exc:
                    raise ParameterError(f"{source}: {exc}") from None
                out.append((path, self.definitions[path].parse(value)))
            else:
                raise ParameterError(f"{source}: cannot read '{line}'")
        if stack:
            raise ParameterError(f"{source}: scope '{stack[-1]}' is not closed with '}}'")
        return out

    # -- values -----------------------------------------------------------------------------
    def extract(self, assignments=()):
        """Build the parameter object: defaults, then the assignments in order."""
        params = self._instantiate(self.root)
        for path, value in assignments:
            definition = self.definitions[path]
            target, name = self._owner(params, path)
            if definition.info.multiple:
                current = list(getattr(target, name) or [])
                current.append(value)
                value = current
            setattr(target, name, value)
        self._check_cells_against_space_groups(params)
        return params

    def _check_cells_against_space_groups(self, params) -> None:
        """A scope's ``unit_cell`` must fit its ``space_group`` (``gamma=120`` with ``P4`` is refused
        here, not after a whole indexing run)."""
        for path, definition in self.definitions.items():
            if not isinstance(definition.value_type, types.UnitCell):
                continue
            scope_path = path.rsplit(".", 1)[0] if "." in path else ""
            sg_path = f"{scope_path}.space_group" if scope_path else "space_group"
            sg_def = self.definitions.get(sg_path)
            if sg_def is None or not isinstance(sg_def.value_type, types.SpaceGroup):
                continue
            cell, sg = self.value_of(params, path), self.value_of(params, sg_path)
            if cell is None or sg is None:
                continue
            why = types.cell_contradicts_space_group(cell, sg)
            if why:
                raise ParameterError(f"{path} and {sg_path} contradict each other: {why}; "
                                     "correct one of them (or give only the space group)")

    def _instantiate(self, node: ScopeNode):
        obj = node.cls()
        for name, child in node.children.items():
            if isinstance(child, ScopeNode) and child.plugin:
                setattr(obj, name, self._instantiate(child))
            elif isinstance(child, ScopeNode):
                sub = getattr(obj, name)
                self._fill_plugins(sub, child)
        return obj

    def _fill_plugins(self, obj, node: ScopeNode) -> None:
        for name, child in node.children.items():
            if isinstance(child, ScopeNode) and child.plugin:
                setattr(obj, name, self._instantiate(child))
            elif isinstance(child, ScopeNode):
                self._fill_plugins(getattr(obj, name), child)

    def _owner(self, params, path: str):
        *scopes, name = path.split(".")
        target = params
        for s in scopes:
            target = getattr(target, s)
        return target, name

    def value_of(self, params, path: str):
        target, name = self._owner(params, path)
        return getattr(target, name)

    def modified(self, params) -> dict[str, object]:
        """Parameters whose values differ from their defaults."""
        return {p: v for p in self.definitions if (v := self.value_of(params, p)) != self.definitions[p].default}

    def to_dict(self, params) -> dict[str, object]:
        return {p: self.value_of(params, p) for p in self.definitions}

    # -- display ----------------------------------------------------------------------------
    def format(self, params=None, expert_level: int = 0, with_help: bool = False, only: set[str] | None = None) -> str:
        """Phil text of the tree (values from ``params`` or defaults), to ``expert_level``."""
        lines: list[str] = []
        self._format_node(self.root, params, expert_level, with_help, only, lines, 0)
        return "\n".join(lines)

    def _format_node(self, node, params, level, with_help, only, lines, depth) -> bool:
        indent = "  " * depth
        wrote = False
        for name, child in node.children.items():
            if isinstance(child, ScopeNode):
                inner: list[str] = []
                if self._format_node(child, params, level, with_help, only, inner, depth + 1):
                    if with_help and child.help:
                        lines.extend(f"{indent}# {t}" for t in textwrap.wrap(child.help, 88 - len(indent)))
                    lines.append(f"{indent}{name} {{")
                    lines.extend(inner)
                    lines.append(f"{indent}}}")
                    wrote = True
                continue
            if child.info.expert_level > level or (only is not None and child.path not in only):
                continue
            value = self.value_of(params, child.path) if params is not None else child.default
            if with_help:
                parts = [child.info.help] if child.info.help else []
                if isinstance(child.value_type, types.Choice):
                    parts.append(f"choices: {', '.join(child.value_type.options)}")
                else:
                    parts.append(f"type: {child.value_type.name}{' or None' if child.optional else ''}")
                if child.info.expert_level:
                    parts.append(f"expert level {child.info.expert_level}")
                for t in textwrap.wrap("; ".join(parts), 88 - len(indent)):
                    lines.append(f"{indent}# {t}")
            if child.info.multiple and value:
                lines.extend(f"{indent}{name} = {child.value_type.format(v)}" for v in value)
            else:
                lines.append(f"{indent}{name} = {child.format(value)}")
            wrote = True
        return wrote


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if ch in "\"'":
            quote = None if quote == ch else (ch if quote is None else quote)
        elif ch == "#" and quote is None:
            return line[:i]
    return line
