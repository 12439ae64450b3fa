"""YAML with line numbers: load a file and remember where every key and value stands.

PyYAML's composer keeps a mark on every node; we walk the node tree once, build plain Python data, and keep
a map from each path (``("sites", 0, "start_urls")``) to its line, so that validation errors can name the
line to fix. Duplicate keys, which ``yaml.safe_load`` silently drops, are errors here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "YamlProblem", "load_located"]

Path_ = tuple[str | int, ...]


class YamlProblem(ValueError):
    """The file is not valid YAML (or repeats a key); ``line`` says where."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


@dataclass
class Located:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load_located(path: Path) -> Located:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise YamlProblem(f"not valid YAML: {e.problem or e}", line) from None
    located = Located(data=None)
    if node is None:
        located.data = {}
        located.lines[()] = 1
        return located
    located.data = _build(node, (), located.lines)
    return located


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlProblem("a key must be a plain word", key_node.start_mark.line + 1)
            if key in out:
                raise YamlProblem(f"key '{key}' appears twice", key_node.start_mark.line + 1)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), lines) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
