"""Which learned model classifies: the bundled one until an operator promotes another, in the ledger.

Candidates made by ``adclear model train`` are kept beside the database in ``models/<version>.npz`` and
change nothing. ``promote`` appends a ``model_promoted`` entry to the ledger (the configuration is then as
auditable as the decisions: who, when, which file by its SHA-256, and its cross-validated figures); the
model in use is the one the latest such entry names. If that file is missing or no longer matches its
digest, the classifier works with the rules alone and every verdict says why: nothing falls back silently
to another model. Promoting a candidate writes the ledger: ``review.models.promote``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from core.db import database_path

__all__ = [
    "BUNDLED",
    "MODEL_RECHECK_SECONDS",
    "ActiveModel",
    "active_model",
    "candidate_path",
    "models_dir",
    "promoted_seq",
    "sha256_of",
    "store_candidate",
]

BUNDLED = "bundled"
MODEL_RECHECK_SECONDS = 30.0  # how often a process that runs for long (the ingest writer) looks for a promotion


@dataclass(frozen=True, slots=True)
class ActiveModel:
    version: str  # "bundled" or model.<sha12>
    path: Path | None  # None: the bundled artifact
    sha256: str = ""
    promoted_seq: int | None = None  # the ledger entry that put it into use
    problem: str = ""  # why it cannot be used as promoted (the classifier then uses the rules alone)


def models_dir(db: sqlite_utils.Database) -> Path:
    path = database_path(db)
    return (path.parent if path else Path("data")) / "models"


def candidate_path(db: sqlite_utils.Database, version: str) -> Path:
    return models_dir(db) / f"{version}.npz"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_candidate(db: sqlite_utils.Database, data: bytes, version: str) -> Path:
    """Keep a trained artifact among the candidates (``models/<version>.npz``, written atomically)."""
    target = candidate_path(db, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def promoted_seq(db: sqlite_utils.Database) -> int | None:
    """The latest ``model_promoted`` ledger entry (None: never): a cheap test of whether the model in use changed."""
    return db.execute("SELECT max(seq) FROM ledger WHERE action = 'model_promoted'").fetchone()[0]


def active_model(db: sqlite_utils.Database) -> ActiveModel:
    """The model the latest ``model_promoted`` ledger entry names (the bundled one when there is none)."""
    row = db.execute(
        "SELECT seq, payload FROM ledger WHERE action = 'model_promoted' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return ActiveModel(BUNDLED, None)
    payload = json.loads(row[1])
    version, sha = str(payload.get("version", "")), str(payload.get("sha256", ""))
    if version == BUNDLED:
        return ActiveModel(BUNDLED, None, promoted_seq=row[0])
    path = candidate_path(db, version)
    problem = ""
    if not path.exists():
        problem = f"{path}: the promoted model file is missing (ledger entry {row[0]})"
    elif sha256_of(path) != sha:
        problem = f"{path}: the promoted model file no longer matches its SHA-256 in ledger entry {row[0]}"
    return ActiveModel(version, path, sha, row[0], problem)
