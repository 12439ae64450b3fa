"""YAML with line numbers and bounds: load a file and remember where every key and value stands.

PyYAML's composer keeps a mark on every node; we walk the node tree once, build plain Python data, and keep
a map from each path (``("sites", 0, "start_urls")``) to its line, so that validation errors can name the
line to fix. Duplicate keys, which ``yaml.safe_load`` silently drops, are errors here.

A YAML file can be hostile (seeds.yml and rule packs come from operators, and get copied around): an alias
bomb (aliases of aliases, 327 bytes for a billion values), an alias that contains itself, or thousands of
nested brackets (PyYAML's composer recurses once per level). So, before anything is built, the event stream
(read without recursion) is checked for nesting deeper than ``MAX_DEPTH``; while building, every value an
alias copies counts, and past ``MAX_VALUES`` the file is refused; an alias inside its own anchor is refused.
Every refusal is a ``YamlProblem`` with the line.

It lives in the classifier because the classifier imports nothing else of adclear (its rule packs are YAML);
``core.seeds`` reads seeds.yml with it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_DEPTH", "MAX_VALUES", "Located", "YamlProblem", "load_data", "load_located"]

Path_ = tuple[str | int | float | None, ...]  # keys and list indexes from the top down

MAX_DEPTH = 50  # mappings and lists inside each other; seeds.yml needs 5, a rule pack 4
MAX_VALUES = 200_000  # values built, aliases expanded: a seeds.yml of 2,000 sites has about 60,000
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlProblem(ValueError, yaml.YAMLError):
    """The file is not valid YAML, repeats a key, or is too big once expanded; ``line`` says where.

    ``str()`` is the problem with its line (``line 3: …``), ``problem`` the problem alone.
    """

    def __init__(self, problem: str, line: int | None):
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
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
    """The data of the YAML file at ``path`` and the line of every value; ``YamlProblem`` when it is not fit."""
    return locate(path.read_text(encoding="utf-8"))


def load_data(text: str, *, repeated_keys: bool = True) -> Any:
    """What ``yaml.safe_load`` gives for ``text``, within the bounds above. ``repeated_keys``: a key written
    twice in one mapping keeps its last value, as ``yaml.safe_load`` does (False: refused)."""
    return locate(text, repeated_keys=repeated_keys).data


def locate(text: str, *, repeated_keys: bool = False) -> Located:
    _check_depth(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        raise _problem(e, text) from None
    finally:
        loader.dispose()
    located = Located(data=None)
    if node is None:
        located.data = {}
        located.lines[()] = 1
        return located
    located.data = _Builder(located.lines, loader.node_anchors, repeated_keys).build(node, (), 1)
    return located


class _Loader(yaml.SafeLoader):
    """SafeLoader's composer, keeping the anchors' names (PyYAML forgets them) for the messages."""

    node_anchors: dict[int, str]

    def compose_document(self) -> yaml.Node:
        self.get_event()  # DocumentStartEvent
        node = self.compose_node(None, None)  # type: ignore[arg-type]  # PyYAML's own call
        assert node is not None  # compose_document runs only when there is a document
        self.get_event()  # DocumentEndEvent
        self.node_anchors = {id(n): name for name, n in self.anchors.items()}
        self.anchors = {}
        return node


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, reading events (PyYAML's parser is a loop, its composer recurses)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlProblem(
                        f"nested more than {MAX_DEPTH} levels deep; flatten the file",
                        event.start_mark.line + 1 if event.start_mark else None,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except YamlProblem:
        raise
    except yaml.YAMLError as e:
        raise _problem(e, text) from None


def _problem(error: yaml.YAMLError, text: str) -> YamlProblem:
    """A PyYAML error as a YamlProblem with the line (reader errors only give a character position)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        return YamlProblem(f"not valid YAML: {error.problem or error}", mark.line + 1 if mark else None)
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(0, error.position)) + 1
        return YamlProblem(f"not valid YAML: special characters are not allowed (#x{error.character:04x})", line)
    return YamlProblem(f"not valid YAML: {error}", None)


class _Builder:
    """Plain data from a node graph, counting every value built (an alias's values count each time)."""

    def __init__(self, lines: dict[Path_, int], anchors: dict[int, str], repeated_keys: bool):
        self.lines = lines
        self.anchors = anchors
        self.repeated_keys = repeated_keys
        self.built = 0
        self.seen: set[int] = set()  # collections built once: building one again expands an alias
        self.open: list[tuple[int, bool, int]] = []  # (node, an alias's copy?, line) from the top down

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        self.built += 1
        if self.built > MAX_VALUES:
            raise YamlProblem(f"aliases expand to more than {MAX_VALUES:,} values: write the values out", self.where())
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if any(entry[0] == id(node) for entry in self.open):
            raise YamlProblem(f"an alias refers to a value that contains it ({self.anchor(node)})", line)
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep once aliases are expanded", self.where())
        self.open.append((id(node), id(node) in self.seen, line))
        self.seen.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)  # neither a scalar nor a sequence
            return self.mapping(node, path, depth)
        finally:
            self.open.pop()

    def where(self) -> int | None:
        """The line of the value holding the outermost alias being expanded (else the value being built)."""
        for parent, (_, copy, _) in zip(self.open, self.open[1:], strict=False):
            if copy:
                return parent[2]
        return self.open[-1][2] if self.open else None

    def anchor(self, node: yaml.Node) -> str:
        name = self.anchors.get(id(node))
        return f"&{name}" if name else "an anchor"

    def mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:  # `<<: *defaults`: keys written here win, as in yaml.safe_load
                merged = {**self.merge(value_node, path, depth, line), **merged}
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("a key must be a plain word", line)
            key = _scalar(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlProblem("a key must be a plain word", line)
            if key in out and not self.repeated_keys:
                raise YamlProblem(f"key '{key}' appears twice", line)
            child = (*path, key)
            self.lines[child] = line
            out[key] = self.build(value_node, child, depth + 1)
        return {**merged, **out}

    def merge(self, node: yaml.Node, path: Path_, depth: int, line: int) -> dict[Any, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):  # the first mapping listed wins
            if not isinstance(source, yaml.MappingNode):
                raise YamlProblem("'<<' merges mappings only: write '<<: *name' with a mapping's anchor", line)
            merged.update(self.build(source, path, depth))
        return merged


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        line = node.start_mark.line + 1
        raise YamlProblem(f"not valid YAML: {getattr(e, 'problem', None) or e}", line) from None
    except Exception:  # PyYAML's constructors fail on odd values with ValueError, IndexError, OverflowError …
        tag = node.tag.rsplit(":", 1)[-1]
        raise YamlProblem(f"not valid YAML: '{node.value}' is not a valid !!{tag}", node.start_mark.line + 1) from None
    finally:
        loader.dispose()
