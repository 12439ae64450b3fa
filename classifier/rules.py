"""Loading and validating rule packs (``classifier/rules/*.yml`` and ``_scoring.yml``).

A rule pack is a directory. Every ``*.yml`` file not starting with ``_`` holds rules; ``_scoring.yml`` holds
the scoring configuration. Anything wrong raises ``RulePackError`` naming the file, the rule and the problem,
for example::

    classifier/rules/equity.yml: rule equity.original_shares: pattern 2 is not a valid regex:
    missing ), unterminated subpattern at position 4

See docs/rules.md for the format.
"""

from __future__ import annotations

import hashlib
import re
import re._constants as sre_c
import re._parser as sre_parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from classifier import prefilter
from classifier.normalize import normalize_char
from classifier.scoring import KIND_KEYS, Scoring, check_scoring
from classifier.taxonomy import CATEGORIES, CATEGORY_LEGAL_BASIS, EXCULPATORY, LEGAL_BASES, SIGNALS
from classifier.yamlsource import load_data as load_yaml  # safe_load with aliases and nesting bounded

__all__ = [
    "DEFAULT_RULES_DIR",
    "Pattern",
    "Rule",
    "RulePack",
    "RulePackError",
    "Scoring",
    "lint",
    "load_rule_pack",
]

DEFAULT_RULES_DIR = Path(__file__).parent / "rules"

RULE_KEYS = {
    "id", "category", "signal", "exculpatory", "weight", "legal_basis", "status",
    "patterns", "unless", "unless_window", "tests", "note",
}  # fmt: skip
DEFAULT_KEYS = {"category", "signal", "exculpatory", "weight", "legal_basis", "status", "unless_window"}

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_LEGAL_KEY_RE = re.compile(r"^[a-z]+(\.[0-9]+)+$")


class RulePackError(Exception):
    """A rule pack cannot be loaded: the message names the file, the rule and the problem."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True, slots=True)
class Pattern:
    source: str
    regex: re.Pattern[str]
    first_chars: frozenset[str] | None  # a match must start with one of these; None: unknown
    # Every match holds one of these strings (one to three characters; classifier.prefilter); None: unknown.
    # The engine skips a pattern when the text holds none of its keys.
    keys: frozenset[str] | None = None
    also: tuple[frozenset[str], ...] = ()  # further requirements of the same kind, all of which hold
    scan: re.Pattern[str] | None = None  # what the engine runs: ``regex``, maybe faster to scan (same matches)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str  # "category" | "signal" | "exculpatory"
    name: str
    weight: float
    legal_basis: str
    status: str
    patterns: tuple[Pattern, ...]
    unless: tuple[re.Pattern[str], ...] = ()
    unless_window: int | None = 12  # None: the whole text (title and body)
    tests_match: tuple[str, ...] = ()
    tests_no_match: tuple[str, ...] = ()
    file: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class RulePack:
    rules: tuple[Rule, ...]
    scoring: Scoring
    digest: str  # sha256 of the pack's files, names and bytes
    directory: Path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _literals(seq: Any) -> list[str]:
    """Every literal character of a parsed pattern (for the case and script checks)."""
    out: list[str] = []
    for op, av in seq:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op is sre_c.IN:
            out.extend(chr(iav) for iop, iav in av if iop is sre_c.LITERAL)
        elif op is sre_c.BRANCH:
            for b in av[1]:
                out.extend(_literals(b))
        elif op is sre_c.SUBPATTERN:
            out.extend(_literals(av[3]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            out.extend(_literals(av[2]))
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            out.extend(_literals(av[1]))
    return out


def compile_pattern(source: str) -> tuple[Pattern | None, str | None]:
    """Compile one rule pattern; on failure return the problem (without file and rule)."""
    try:
        regex = re.compile(source)
    except re.error as e:
        return None, f"is not a valid regex: {e}"
    if regex.fullmatch("") is not None or regex.search("") is not None:
        return None, "matches the empty string"
    parsed = sre_parse.parse(source)
    for ch in _literals(parsed):
        norm = normalize_char(ch)
        if norm != ch and len(ch) == 1 and ch not in "\t\n\r\v\f":
            return None, (f"contains {ch!r}, which normalisation turns into {norm!r} before matching: write {norm!r}")
    keys = prefilter.needs(parsed, regex.flags)
    also = prefilter.also_needs(parsed, keys, regex.flags)
    first = prefilter.first_chars(parsed)
    return Pattern(source, regex, first, keys, also, prefilter.scan_regex(regex, parsed, first)), None


# --- loading ------------------------------------------------------------------------------------------------
def _check_rule(
    raw: Any, index: int, defaults: dict[str, Any], where: str, scoring: Scoring
) -> tuple[Rule | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: rule #{index + 1}: must be a mapping, not {type(raw).__name__}"]
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        return None, [f"{where}: rule #{index + 1}: 'id' is missing or not of the form 'family.name'"]
    pre = f"{where}: rule {rid}"
    problems: list[str] = [
        f"{pre}: unknown key {k!r} (allowed: {', '.join(sorted(RULE_KEYS))})" for k in raw if k not in RULE_KEYS
    ]
    merged = dict(defaults)
    if any(k in raw for k in KIND_KEYS):  # a rule's own kind replaces the defaults' kind
        for k in KIND_KEYS:
            merged.pop(k, None)
    merged.update(raw)
    kinds = [k for k in KIND_KEYS if k in merged]
    if len(kinds) != 1:
        problems.append(f"{pre}: needs exactly one of 'category', 'signal', 'exculpatory' (has {kinds or 'none'})")
        return None, problems
    kind, name = kinds[0], merged[kinds[0]]
    valid = {"category": CATEGORIES, "signal": SIGNALS, "exculpatory": EXCULPATORY}[kind]
    if name not in valid:
        problems.append(f"{pre}: unknown {kind} {name!r} (known: {', '.join(valid)})")
    weight = _weight(merged, pre, problems)
    basis = _legal_basis(merged, kind, name, pre, problems)
    status = _status(merged, pre, problems)
    patterns = _patterns(merged, pre, problems)
    unless = _unless(merged, pre, problems)
    window = _window(merged, scoring, pre, problems)
    t_match, t_no = _examples(merged, pre, problems)
    if problems:
        return None, problems
    rule = Rule(
        id=rid,
        kind=kind,
        name=name,
        weight=weight,
        legal_basis=basis,
        status=status,
        patterns=patterns,
        unless=unless,
        unless_window=window,
        tests_match=t_match,
        tests_no_match=t_no,
        file=where,
        note=str(merged.get("note", "")),
    )
    return rule, []


# Each check below reads one key of a rule (its defaults applied) and appends what is wrong to ``problems``.
def _weight(merged: dict[str, Any], pre: str, problems: list[str]) -> float:
    weight = merged.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 10:
        problems.append(f"{pre}: 'weight' must be a number from 0 to 10 (got {weight!r})")
        return 0.0
    return float(weight)


def _legal_basis(merged: dict[str, Any], kind: str, name: str, pre: str, problems: list[str]) -> str:
    basis = merged.get("legal_basis")
    if basis is None and kind == "category":
        basis = CATEGORY_LEGAL_BASIS.get(name)
    if not isinstance(basis, str) or not basis.strip():
        problems.append(f"{pre}: 'legal_basis' is missing (an article, e.g. 'spc.2.8' or '《广告法》第二十五条')")
        basis = ""
    elif _LEGAL_KEY_RE.match(basis) and basis not in LEGAL_BASES:
        problems.append(f"{pre}: unknown legal_basis key {basis!r} (known: {', '.join(LEGAL_BASES)})")
    return LEGAL_BASES.get(basis, basis)


def _status(merged: dict[str, Any], pre: str, problems: list[str]) -> str:
    status = merged.get("status", "active")
    if status == "testing":
        status = "shadow"  # the name of earlier packs
    if status not in ("active", "shadow"):
        problems.append(f"{pre}: 'status' must be 'active' or 'shadow' (got {status!r})")
    return str(status)


def _patterns(merged: dict[str, Any], pre: str, problems: list[str]) -> tuple[Pattern, ...]:
    pats = merged.get("patterns")
    patterns: list[Pattern] = []
    if not isinstance(pats, list) or not pats:
        problems.append(f"{pre}: 'patterns' must be a non-empty list of regular expressions")
        return ()
    for i, src in enumerate(pats, 1):
        if not isinstance(src, str):
            problems.append(f"{pre}: pattern {i} is not a string")
            continue
        p, problem = compile_pattern(src)
        if problem:
            problems.append(f"{pre}: pattern {i} {problem}")
        elif p is not None:
            patterns.append(p)
    return tuple(patterns)


def _unless(merged: dict[str, Any], pre: str, problems: list[str]) -> tuple[re.Pattern[str], ...]:
    unless: list[re.Pattern[str]] = []
    for i, src in enumerate(merged.get("unless") or [], 1):
        try:
            unless.append(re.compile(src))
        except (re.error, TypeError) as e:
            problems.append(f"{pre}: unless {i} is not a valid regex: {e}")
    return tuple(unless)


def _window(merged: dict[str, Any], scoring: Scoring, pre: str, problems: list[str]) -> int | None:
    window_raw = merged.get("unless_window", scoring.unless_window)
    if window_raw == "text":
        return None
    if isinstance(window_raw, int) and not isinstance(window_raw, bool) and 0 <= window_raw <= 1000:
        return window_raw
    problems.append(f"{pre}: 'unless_window' must be a number of characters or 'text' (got {window_raw!r})")
    return scoring.unless_window


def _examples(merged: dict[str, Any], pre: str, problems: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tests = merged.get("tests") or {}
    if not isinstance(tests, dict) or set(tests) - {"match", "no_match"}:
        problems.append(f"{pre}: 'tests' must be a mapping with 'match' and/or 'no_match' lists")
        tests = {}
    t_match, t_no = tests.get("match") or [], tests.get("no_match") or []
    if not all(isinstance(t, str) for t in [*t_match, *t_no]):
        problems.append(f"{pre}: test examples must be strings")
        t_match, t_no = [], []
    return tuple(t_match), tuple(t_no)


def _collect(directory: Path) -> tuple[RulePack | None, list[str]]:
    problems: list[str] = []
    directory = Path(directory)
    if not directory.is_dir():
        return None, [f"{_display(directory)}: not a directory of rule files"]
    files = sorted(directory.glob("*.yml"))
    digest = hashlib.sha256()
    scoring = Scoring()
    scoring_path = directory / "_scoring.yml"
    parsed: dict[Path, Any] = {}
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        try:
            parsed[path] = load_yaml(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            problems.append(f"{_display(path)}: not valid YAML: {e}".replace("\n", " "))
    if scoring_path in parsed:
        scoring, sp = check_scoring(parsed[scoring_path], _display(scoring_path))
        problems.extend(sp)
    else:  # a pack without its own scoring uses the shipped one
        default_path = DEFAULT_RULES_DIR / "_scoring.yml"
        raw = default_path.read_bytes()
        digest.update(b"_scoring.yml\0" + raw + b"\0")
        scoring, sp = check_scoring(load_yaml(raw.decode("utf-8")), _display(default_path))
        problems.extend(sp)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path, data in parsed.items():
        if path.name.startswith("_"):
            continue
        where = _display(path)
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            problems.append(f"{where}: must be a mapping with a 'rules' list")
            continue
        for k in data:
            if k not in ("rules", "defaults"):
                problems.append(f"{where}: unknown top-level key {k!r} (allowed: defaults, rules)")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            problems.append(f"{where}: 'defaults' must be a mapping")
            defaults = {}
        for k in defaults:
            if k not in DEFAULT_KEYS:
                problems.append(f"{where}: defaults: unknown key {k!r} (allowed: {', '.join(sorted(DEFAULT_KEYS))})")
        for i, raw in enumerate(data["rules"]):
            rule, rp = _check_rule(raw, i, defaults, where, scoring)
            problems.extend(rp)
            if rule is None:
                continue
            if rule.id in seen:
                problems.append(f"{where}: rule {rule.id}: id already used in {seen[rule.id]}")
                continue
            seen[rule.id] = where
            rules.append(rule)
    if not rules and not problems:
        problems.append(f"{_display(directory)}: no rules found")
    return RulePack(tuple(rules), scoring, digest.hexdigest(), directory), problems


def load_rule_pack(directory: Path | str = DEFAULT_RULES_DIR) -> RulePack:
    """Load and validate a rule pack; raise ``RulePackError`` (first problem in the message, all in .problems)."""
    pack, problems = _collect(Path(directory))
    if problems or pack is None:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise RulePackError(problems[0] + more, problems)
    return pack


def lint(directory: Path | str = DEFAULT_RULES_DIR) -> list[str]:
    """Every problem of a rule pack (errors that stop loading, then warnings); empty when all is well."""
    pack, problems = _collect(Path(directory))
    if pack is None:
        return problems
    for rule in pack.rules:
        pre = f"{rule.file}: rule {rule.id}"
        if not rule.tests_match:
            problems.append(f"{pre}: warning: no 'tests.match' examples")
        if not rule.tests_no_match:
            problems.append(f"{pre}: warning: no 'tests.no_match' examples")
        seen: set[str] = set()
        for i, p in enumerate(rule.patterns, 1):
            if p.source in seen:
                problems.append(f"{pre}: warning: pattern {i} repeats an earlier pattern")
            seen.add(p.source)
    if pack.scoring.groups:
        for rule in pack.rules:
            if pack.scoring.group_of(rule.kind, rule.name) is None:
                problems.append(f"{rule.file}: rule {rule.id}: warning: {rule.name} belongs to no scoring group")
    return problems
