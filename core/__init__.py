"""The floor every other package stands on: what the crawler, the review and the command line share.

- ``core.db``, ``core.migrations``: the SQLite database, opened warily, and its schema;
- ``core.errors``: the whole tree of errors a user can meet;
- ``core.timeutil``: times stored in UTC, shown in Asia/Shanghai;
- ``core.seeds``, ``core.addresses``: seeds.yml, validated;
- ``core.ads``: an ad's key, its content hash and the text the classifier reads;
- ``core.classifiers``, ``core.models``: the classifier as every part loads it, with the model the ledger names;
- ``core.verdicts``: verdicts in the database and the queue they feed (``classify_and_store``);
- ``core.fingerprints``: near-duplicate fingerprints, the decided-ads indexes, clusters;
- ``core.reclassify``: classifying stored ads again (after a rule change, after a decision);
- ``core.sites``: the configured sites with their last run;
- ``core.warc``: reading a record back out of a WARC file.

``core`` imports the classifier and nothing else of adclear (tests/test_architecture.py keeps it so).
"""

__version__ = "0.1.0"
