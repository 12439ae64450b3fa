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
import re._constants as sre_c  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adclear.yamlsource import load_data as load_yaml  # safe_load with aliases and nesting bounded
from classifier import prefilter
from classifier.normalize import normalize_char
from classifier.taxonomy import CATEGORIES, CATEGORY_LEGAL_BASIS, EXCULPATORY, LEGAL_BASES, SIGNALS

__all__ = [
    "DEFAULT_RULES_DIR",
    "Pattern",
    "Rule",
    "RulePack",
    "RulePackError",
    "Scoring",
    "lint",
    "load_rule_pack",
    "run_rule_tests",
]

DEFAULT_RULES_DIR = Path(__file__).parent / "rules"

RULE_KEYS = {
    "id", "category", "signal", "exculpatory", "weight", "legal_basis", "status",
    "patterns", "unless", "unless_window", "tests", "note",
}  # fmt: skip
DEFAULT_KEYS = {"category", "signal", "exculpatory", "weight", "legal_basis", "status", "unless_window"}
KIND_KEYS = ("category", "signal", "exculpatory")
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
class Scoring:
    """How hits add up to a score and a label (``_scoring.yml``)."""

    flag: float = 4.0
    watch: float = 2.0
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {members, cap, sign}
    flag_requires_any: dict[str, float] = field(default_factory=dict)
    veto_exculpatory: float = 3.0
    unless_window: int = 12
    max_hits_per_rule: int = 3
    rejected_penalty: float = 2.0
    rejected_min_similarity: float = 0.0

    def group_of(self, kind: str, name: str) -> str | None:
        for gname, g in self.groups.items():
            members = g["members"]
            if name in members or kind in members:
                return gname
        return None


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
def _check_scoring(data: Any, where: str) -> tuple[Scoring, list[str]]:
    problems: list[str] = []
    if data is None:
        return Scoring(), problems
    if not isinstance(data, dict):
        return Scoring(), [f"{where}: must be a mapping"]
    known = {"thresholds", "groups", "flag_requires_any", "veto", "unless_window", "max_hits_per_rule", "neighbours"}
    for k in data:
        if k not in known:
            problems.append(f"{where}: unknown key {k!r} (known: {', '.join(sorted(known))})")
    th = data.get("thresholds", {}) or {}
    flag, watch = float(th.get("flag", 4.0)), float(th.get("watch", 2.0))
    if watch > flag:
        problems.append(f"{where}: thresholds.watch ({watch}) is above thresholds.flag ({flag})")
    groups: dict[str, dict[str, Any]] = {}
    valid_members = set(SIGNALS) | set(EXCULPATORY) | set(CATEGORIES) | set(KIND_KEYS)
    for gname, g in (data.get("groups") or {}).items():
        if not isinstance(g, dict) or "members" not in g:
            problems.append(f"{where}: group {gname}: needs 'members'")
            continue
        for m in g["members"]:
            if m not in valid_members:
                problems.append(f"{where}: group {gname}: unknown member {m!r}")
        sign = g.get("sign", 1)
        if sign not in (1, -1):
            problems.append(f"{where}: group {gname}: sign must be 1 or -1")
        groups[gname] = {"members": list(g["members"]), "cap": float(g.get("cap", 100.0)), "sign": sign}
    fra = {str(k): float(v) for k, v in (data.get("flag_requires_any") or {}).items()}
    for k in fra:
        if k not in groups:
            problems.append(f"{where}: flag_requires_any names unknown group {k!r}")
    veto = data.get("veto") or {}
    nb = data.get("neighbours") or {}
    scoring = Scoring(
        flag=flag,
        watch=watch,
        groups=groups,
        flag_requires_any=fra,
        veto_exculpatory=float(veto.get("exculpatory", 3.0)),
        unless_window=int(data.get("unless_window", 12)),
        max_hits_per_rule=int(data.get("max_hits_per_rule", 3)),
        rejected_penalty=float(nb.get("rejected_penalty", 2.0)),
        rejected_min_similarity=float(nb.get("rejected_min_similarity", 0.0)),
    )
    return scoring, problems


def _check_rule(
    raw: Any, index: int, defaults: dict[str, Any], where: str, scoring: Scoring
) -> tuple[Rule | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{where}: rule #{index + 1}: must be a mapping, not {type(raw).__name__}"]
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        return None, [f"{where}: rule #{index + 1}: 'id' is missing or not of the form 'family.name'"]
    pre = f"{where}: rule {rid}"
    problems: list[str] = []
    for k in raw:
        if k not in RULE_KEYS:
            problems.append(f"{pre}: unknown key {k!r} (allowed: {', '.join(sorted(RULE_KEYS))})")
    own_kinds = [k for k in KIND_KEYS if k in raw]
    merged = dict(defaults)
    if own_kinds:
        for k in KIND_KEYS:
            merged.pop(k, None)
    merged.update(raw)
    kinds = [k for k in KIND_KEYS if k in merged]
    if len(kinds) != 1:
        problems.append(f"{pre}: needs exactly one of 'category', 'signal', 'exculpatory' (has {kinds or 'none'})")
        return None, problems
    kind = kinds[0]
    name = merged[kind]
    valid = {"category": CATEGORIES, "signal": SIGNALS, "exculpatory": EXCULPATORY}[kind]
    if name not in valid:
        problems.append(f"{pre}: unknown {kind} {name!r} (known: {', '.join(valid)})")
    weight = merged.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 10:
        problems.append(f"{pre}: 'weight' must be a number from 0 to 10 (got {weight!r})")
        weight = 0.0
    basis = merged.get("legal_basis")
    if basis is None and kind == "category":
        basis = CATEGORY_LEGAL_BASIS.get(name)
    if not isinstance(basis, str) or not basis.strip():
        problems.append(f"{pre}: 'legal_basis' is missing (an article, e.g. 'spc.2.8' or '《广告法》第二十五条')")
        basis = ""
    elif _LEGAL_KEY_RE.match(basis) and basis not in LEGAL_BASES:
        problems.append(f"{pre}: unknown legal_basis key {basis!r} (known: {', '.join(LEGAL_BASES)})")
    basis = LEGAL_BASES.get(basis, basis)
    status = merged.get("status", "active")
    if status == "testing":
        status = "shadow"  # the name of earlier packs
    if status not in ("active", "shadow"):
        problems.append(f"{pre}: 'status' must be 'active' or 'shadow' (got {status!r})")
    pats = merged.get("patterns")
    patterns: list[Pattern] = []
    if not isinstance(pats, list) or not pats:
        problems.append(f"{pre}: 'patterns' must be a non-empty list of regular expressions")
    else:
        for i, src in enumerate(pats, 1):
            if not isinstance(src, str):
                problems.append(f"{pre}: pattern {i} is not a string")
                continue
            p, problem = compile_pattern(src)
            if problem:
                problems.append(f"{pre}: pattern {i} {problem}")
            elif p is not None:
                patterns.append(p)
    unless: list[re.Pattern[str]] = []
    for i, src in enumerate(merged.get("unless") or [], 1):
        try:
            unless.append(re.compile(src))
        except (re.error, TypeError) as e:
            problems.append(f"{pre}: unless {i} is not a valid regex: {e}")
    window_raw = merged.get("unless_window", scoring.unless_window)
    window: int | None
    if window_raw == "text":
        window = None
    elif isinstance(window_raw, int) and not isinstance(window_raw, bool) and 0 <= window_raw <= 1000:
        window = window_raw
    else:
        problems.append(f"{pre}: 'unless_window' must be a number of characters or 'text' (got {window_raw!r})")
        window = scoring.unless_window
    tests = merged.get("tests") or {}
    if not isinstance(tests, dict) or set(tests) - {"match", "no_match"}:
        problems.append(f"{pre}: 'tests' must be a mapping with 'match' and/or 'no_match' lists")
        tests = {}
    t_match, t_no = tests.get("match") or [], tests.get("no_match") or []
    if not all(isinstance(t, str) for t in [*t_match, *t_no]):
        problems.append(f"{pre}: test examples must be strings")
        t_match, t_no = [], []
    if problems:
        return None, problems
    return (
        Rule(
            id=rid,
            kind=kind,
            name=name,
            weight=float(weight),
            legal_basis=basis,
            status=status,
            patterns=tuple(patterns),
            unless=tuple(unless),
            unless_window=window,
            tests_match=tuple(t_match),
            tests_no_match=tuple(t_no),
            file=where,
            note=str(merged.get("note", "")),
        ),
        [],
    )


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
        scoring, sp = _check_scoring(parsed[scoring_path], _display(scoring_path))
        problems.extend(sp)
    else:  # a pack without its own scoring uses the shipped one
        default_path = DEFAULT_RULES_DIR / "_scoring.yml"
        raw = default_path.read_bytes()
        digest.update(b"_scoring.yml\0" + raw + b"\0")
        scoring, sp = _check_scoring(load_yaml(raw.decode("utf-8")), _display(default_path))
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


def run_rule_tests(directory: Path | str = DEFAULT_RULES_DIR) -> list[str]:
    """Run every rule's ``tests`` examples; return one line per failure (empty when all pass).

    A ``match`` example must produce at least one hit of its rule (after ``unless``); a ``no_match`` example
    must produce none. Examples are classified whole, exactly as an ad body would be.
    """
    from classifier.engine import Classifier  # the engine imports this module

    clf = Classifier(load_rule_pack(directory))
    failures: list[str] = []
    for rule in clf.rules:
        for example in rule.tests_match:
            hits, _ = clf.hits(example, complete=True)
            if not any(h.rule_id == rule.id for h in hits):
                failures.append(f"{rule.file}: rule {rule.id}: expected a match on {example!r}")
        for example in rule.tests_no_match:
            hits, _ = clf.hits(example, complete=True)
            got = [h.matched for h in hits if h.rule_id == rule.id]
            if got:
                failures.append(f"{rule.file}: rule {rule.id}: expected no match on {example!r}, matched {got!r}")
    return failures
