"""The writer's model in use, offered to the crawler nodes through Redis, so that they assess with it.

A verdict is concluded on the writer only from an assessment of the very classifier the writer uses
(``crawler.pipelines.Classification``); any other ad is classified again there, which takes the writer about
twice as long per new ad. The model in use is the one the writer's ledger names (``core.models``), and an
operator changes it with ``adclear model promote``: the nodes have no database to read that from. So the writer
puts it in one Redis hash, ``MODEL_KEY``, whenever it loads it (at its start and after a promotion, which it
notices within ``MODEL_RECHECK_SECONDS``): ``version`` (``bundled``, ``model.<12 hex>`` or ``none``),
``sha256`` and, for a promoted model, ``data``, the file's bytes. A node reads ``version`` at its first ad and
then at most every ``MODEL_RECHECK_SECONDS`` (one small read), and on a change loads what is offered:

- ``bundled``: the model shipped with adclear, as before;
- a promoted model: its bytes, checked against ``sha256`` and the version (the first 12 hex digits of the
  SHA-256), read as any model file (``allow_pickle=False``: no code runs on load);
- ``none`` (the writer's promoted model cannot be used) or anything unreadable: the rules alone; the writer then
  classifies what the node could not assess as it does, and says so in its log.

Nothing here can make a verdict wrong: an assessment that does not match the writer's classifier is only
slower to conclude.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import RedisError

from classifier import Classifier
from classifier.model import version_of
from core.classifiers import load_classifier
from core.models import BUNDLED, MODEL_RECHECK_SECONDS, ActiveModel

__all__ = ["MODEL_KEY", "OfferedModel", "offer_model"]

log = logging.getLogger(__name__)

MODEL_KEY = "adclear:model"
NO_MODEL = "none"


def offer_model(client: redis.Redis, active: ActiveModel) -> str:
    """Put the writer's model in use where the nodes read it; returns the version offered."""
    version, sha, data = BUNDLED, "", b""
    if active.problem:
        version = NO_MODEL
    elif active.path is not None:
        version, sha, data = active.version, active.sha256, active.path.read_bytes()
    fields: dict[Any, bytes] = {"version": version.encode(), "sha256": sha.encode(), "data": data}
    client.hset(MODEL_KEY, mapping=fields)
    return version


class OfferedModel:
    """A node's classifier, following the model the writer offers (read at most every ``recheck`` seconds)."""

    def __init__(self, client: redis.Redis, rules_dir: Path | None, recheck: float = MODEL_RECHECK_SECONDS):
        self.client = client
        self.rules_dir = rules_dir
        self.recheck = recheck
        self.version = BUNDLED  # the version the node assesses with, as the writer names it
        self.classifier: Classifier = load_classifier(rules_dir)  # until the writer offers another
        self._checked = float("-inf")

    def current(self) -> Classifier:
        """The classifier to assess with now: the one the writer offers, looked for again after ``recheck`` s."""
        now = time.monotonic()
        if now - self._checked < self.recheck:
            return self.classifier
        self._checked = now
        try:
            offered = _bytes(self.client.hget(MODEL_KEY, "version")).decode("utf-8", "replace") or BUNDLED
            if offered != self.version:  # the three fields at once: the writer may offer another meanwhile
                offered_b, sha, data = map(_bytes, self.client.hmget(MODEL_KEY, ["version", "sha256", "data"]))
                self._load(offered_b.decode("utf-8", "replace") or BUNDLED, sha.decode("ascii", "replace"), data)
        except RedisError as e:  # the stream's own writes say when Redis is gone for good
            log.warning("could not read the writer's model from Redis (%s): assessing with %s", e, self.version)
        return self.classifier

    def _load(self, version: str, sha: str, data: bytes) -> None:
        if version == BUNDLED:
            self.classifier = load_classifier(self.rules_dir)
        elif version == NO_MODEL:
            self.classifier = load_classifier(self.rules_dir, False)
        else:  # a promoted model; when it cannot be used (said why), the writer classifies these ads itself
            self.classifier = self._promoted(version, sha, data) or load_classifier(self.rules_dir, False)
        self.version = version
        log.info("assessing with the writer's model %s (%s)", version, self.classifier.version)

    def _promoted(self, version: str, sha: str, data: bytes) -> Classifier | None:
        if hashlib.sha256(data).hexdigest() != sha or version_of(data) != version:
            log.warning("the writer's model %s in Redis does not match its SHA-256: the rules alone assess", version)
            return None
        fd, name = tempfile.mkstemp(prefix="adclear-model-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            classifier = load_classifier(self.rules_dir, Path(name))
        finally:
            os.unlink(name)
        if classifier.model_error:
            log.warning("the writer's model %s cannot be used here (%s): the rules alone assess", version,
                        classifier.model_error)  # fmt: skip
            return None
        return classifier


def _bytes(value: Any) -> bytes:
    """A field as Redis answers it (bytes; None when there is none)."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value or b"")
