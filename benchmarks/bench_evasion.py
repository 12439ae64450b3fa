"""Does the classifier hold when promoters misspell? Recall on evasion copies of real promotions, and false
positives on the same copies of the look-alikes, one kind of evasion at a time (``benchmarks/evasions.py``).

Honest by default: grouped K-fold cross-validation by source, as ``adclear eval --cv``; each fold's model
classifies the original and the copies of rows it never saw. ``--bundled`` classifies every row with the
bundled model instead (fast; the model saw these rows, so only the differences between columns mean much).

Run: ``.venv/bin/python benchmarks/bench_evasion.py [--data-dir DIR] [--cv 5 | --bundled]``; DIR holds
real-dev.jsonl and real-train.jsonl (and, for the corpus column, the SMS and telecom corpora).
Goal: recall on every kind of copy within 0.05 of the originals', no rise in false positives.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evasions import EVASIONS, evade  # noqa: E402

from classifier import Classifier  # noqa: E402
from classifier.training import Row, Trainer, TrainParams, read_labelled, read_negatives  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(data_dir: Path) -> list[Row]:
    rows = read_labelled(data_dir / "real-dev.jsonl") + read_labelled(data_dir / "real-train.jsonl")
    sms = data_dir / "spam_sms_80w_sample" / "sms80w_first10k.tsv"
    if sms.exists():
        rows += read_negatives(sms)
    for f in sorted((data_dir / "telecom_fraud_texts_5").glob("label0*.csv")):
        rows += read_negatives(f)
    return rows


def measure(rows: list[Row], classifiers: list[tuple[Classifier, list[int]]], corpus_sample: int) -> None:
    kinds = ["original", *EVASIONS]
    print(f"{'copies':<18}{'recall':>8}{'Δ':>7}{'recall w/o bl':>14}{'FP look-alikes':>16}{'FP corpus':>11}")
    base_recall = None
    for kind in kinds:
        tp = pos = pos_nb = tp_nb = fp = neg = cfp = cneg = 0
        for clf, idx in classifiers:
            corpus_seen = 0
            for i in idx:
                r = rows[i]
                if r.corpus:
                    corpus_seen += 1
                    if corpus_seen > corpus_sample:
                        continue
                text = r.text if kind == "original" else evade(r.text, kind, seed=i)
                title = r.title if kind == "original" else evade(r.title, kind, seed=i)
                flagged = clf.classify(text, title=title).label == "flag"
                if r.corpus:
                    cneg += 1
                    cfp += flagged
                elif r.label == 1:
                    pos += 1
                    tp += flagged
                    if not r.borderline:
                        pos_nb += 1
                        tp_nb += flagged
                else:
                    neg += 1
                    fp += flagged
        recall = tp / pos
        base_recall = recall if base_recall is None else base_recall
        print(
            f"{kind:<18}{recall:>8.3f}{recall - base_recall:>+7.3f}{tp_nb / max(1, pos_nb):>14.3f}"
            f"{f'{fp}/{neg}':>16}{f'{cfp}/{cneg}' if cneg else '–':>11}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cv", type=int, default=5, help="grouped folds (default 5)")
    ap.add_argument("--bundled", action="store_true", help="classify with the bundled model instead of per fold")
    ap.add_argument("--corpus-sample", type=int, default=400, help="corpus rows per fold (per file) to copy")
    args = ap.parse_args()
    if not (args.data_dir / "real-train.jsonl").exists():
        print(f"skipped: no real data in {args.data_dir} (real-dev.jsonl, real-train.jsonl); give --data-dir")
        return
    rows = load(args.data_dir)
    started = time.perf_counter()
    base = Classifier.default()
    if args.bundled:
        classifiers = [(base, list(range(len(rows))))]
        print(f"bundled model {base.version}: every row (the model was trained on them)")
    else:
        trainer = Trainer(rows, base, TrainParams())
        folds = trainer.fold_models(args.cv)
        classifiers = [(Classifier(base.pack, model), te.tolist()) for model, te in folds]
        print(f"grouped {args.cv}-fold cross-validation: each row classified by a model that never saw its source")
    measure(rows, classifiers, args.corpus_sample)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
