"""What the review functions need to know about the deployment, passed down by whoever calls them.

The command line builds it from its options and the environment (``adclear.config``); the web app keeps one in
``app.config["REVIEW"]``. Library code reads no environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReviewSettings"]


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    # the rule packs that classify a decided ad's near-duplicates again (None: the bundled ones)
    rules_dir: Path | None = None
    # a webhook (http or https) that receives every ledger head kept outside the database ('' for none)
    anchor_url: str = ""
