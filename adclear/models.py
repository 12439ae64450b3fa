"""The model in use is ``core.models``, promoting one ``review.models``; these names stay for code written before
they moved and still in flight (adclear/cli/model_cmds.py, tests/test_model_promotion.py). ``promote`` here is
the command line's: it anchors the ledger head where the configuration says (``adclear.config``)."""

from __future__ import annotations

import sqlite_utils

from adclear.config import review_settings
from core.models import BUNDLED, ActiveModel, active_model, candidate_path, models_dir, store_candidate
from review import ledger
from review.models import promote as promote_model

__all__ = ["BUNDLED", "ActiveModel", "active_model", "candidate_path", "models_dir", "promote", "store_candidate"]


def promote(db: sqlite_utils.Database, version: str, *, actor: str, note: str = "") -> ledger.Entry:
    return promote_model(db, version, actor=actor, note=note, settings=review_settings())
