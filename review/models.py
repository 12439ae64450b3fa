"""Putting a learned model into use: a ``model_promoted`` ledger entry, as auditable as a decision.

Which model is in use is read back from the ledger by ``core.models.active_model``; this writes it.
"""

from __future__ import annotations

import sqlite_utils

from classifier.model import DEFAULT_MODEL_PATH, ModelError, load_model
from core.db import immediate
from core.errors import AdclearError, ModelNotFound
from core.models import BUNDLED, candidate_path, models_dir, sha256_of
from review import audit, ledger
from review.settings import ReviewSettings

__all__ = ["promote"]


def promote(
    db: sqlite_utils.Database, version: str, *, actor: str, note: str = "", settings: ReviewSettings | None = None
) -> ledger.Entry:
    """Put a candidate (or ``bundled``) into use: one ledger entry and an audit record; returns the entry."""
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
        "sha256": sha256_of(path),
        "file": path.name,
        "trained_at": model.meta.get("trained_at", ""),
        "cv": model.meta.get("cv", {}),
        "note": note,
    }
    with immediate(db):
        ledger.check_before_append(db)
        entry = ledger.append(db, actor=actor, action="model_promoted", ad_id=None, payload=payload)
        audit.record(db, actor=actor, action="model_promoted", target=version, detail=payload)
    ledger.anchor(db, "model_promoted", settings)
    return entry
