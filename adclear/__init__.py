"""adclear: find online ads promoting illegal fundraising, review them, keep the clearance ledger.

This package is the shell: the ``adclear`` command line (``adclear.cli``), its configuration
(``adclear.config``) and running crawls (``adclear.crawl``). The library lives in ``core``, ``crawler``,
``classifier`` and ``review`` (docs/architecture.md).
"""

from core import __version__

__all__ = ["__version__"]
