"""Which learned model classifies: the bundled one until an operator promotes another, in the ledger.

Candidates made by ``adclear model train`` are kept beside the database in ``models/<version>.npz`` and
change nothing. ``promote`` appends a ``model_promoted`` entry to the ledger (the configuration is then as
auditable as the decisions: who, when, which file by its SHA-256, and its cross-validated figures); the
model in use is the one the latest such entry names. If that file is missing or no longer matches its
digest, the classifier works with the rules alone and every verdict says why: nothing falls back silently
to another model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from adclear.db import database_path, immediate
from adclear.errors import AdclearError

__all__ = [
    "BUNDLED",
    "ActiveModel",
    "ModelNotFound",
    "active_model",
    "candidate_path",
    "models_dir",
    "promote",
    "store_candidate",
]

BUNDLED = "bundled"


class ModelNotFound(AdclearError):
    """The model named cannot be found among the candidates."""


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_candidate(db: sqlite_utils.Database, data: bytes, version: str) -> Path:
    """Keep a trained artifact among the candidates (``models/<version>.npz``, written atomically)."""
    target = candidate_path(db, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def active_model(db: sqlite_utils.Database) -> ActiveModel:
    """The model the latest ``model_promoted`` ledger entry names (the bundled one when there is none)."""
    row = db.execute(
        "SELECT seq, payload FROM ledger WHERE action = 'model_promoted' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return ActiveModel(BUNDLED, None)
    import json

    payload = json.loads(row[1])
    version, sha = str(payload.get("version", "")), str(payload.get("sha256", ""))
    if version == BUNDLED:
        return ActiveModel(BUNDLED, None, promoted_seq=row[0])
    path = candidate_path(db, version)
    problem = ""
    if not path.exists():
        problem = f"{path}: the promoted model file is missing (ledger entry {row[0]})"
    elif _sha256(path) != sha:
        problem = f"{path}: the promoted model file no longer matches its SHA-256 in ledger entry {row[0]}"
    return ActiveModel(version, path, sha, row[0], problem)


def promote(db: sqlite_utils.Database, version: str, *, actor: str, note: str = "") -> Any:
    """Put a candidate (or ``bundled``) into use: one ledger entry and an audit record; returns the entry."""
    from classifier.model import DEFAULT_MODEL_PATH, ModelError, load_model
    from review import anchors, audit, ledger

    if version == BUNDLED:
        path = DEFAULT_MODEL_PATH
    else:
        path = candidate_path(db, version)
        if not path.exists():
            known = sorted(p.stem for p in models_dir(db).glob("model.*.npz"))
            raise ModelNotFound(
                f"no candidate model {version} in {models_dir(db)}"
                + (f" (there: {', '.join(known)})" if known else "; make one with `adclear model train`")
            )
    try:
        model = load_model(path)
    except ModelError as e:
        raise AdclearError(f"cannot promote it: {e}") from None
    if version != BUNDLED and model.version != version:
        raise AdclearError(f"{path} holds {model.version}, not {version}: it was changed after training")
    payload = {
        "version": version,
        "sha256": _sha256(path),
        "file": path.name,
        "trained_at": model.meta.get("trained_at", ""),
        "cv": model.meta.get("cv", {}),
        "note": note,
    }
    with immediate(db):
        ledger.check_before_append(db)
        entry = ledger.append(db, actor=actor, action="model_promoted", ad_id=None, payload=payload)
        audit.record(db, actor=actor, action="model_promoted", target=version, detail=payload)
    anchors.record(db, "model_promoted")
    return entry
