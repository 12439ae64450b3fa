"""adclear classify, queue, show, review, ledger, evidence: the review path from the command line."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from adclear.cli import ID, Config
from adclear.cli.accounts import acting_account
from adclear.cli.term import echo, fit
from classifier.taxonomy import CATEGORIES, CATEGORY_LEGAL_BASIS, REJECT_REASONS
from core.adimages import picture_hits, pictures_of
from core.classifiers import load_classifier
from core.errors import AdclearError, InvalidChoice
from core.fingerprints import recluster as do_recluster
from core.timeutil import local
from review import adview, anchors, consistency, decisions
from review import evidence as ad_evidence
from review import ledger as chain
from review import queue as review_queue

__all__ = ["COMMANDS"]


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command()
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON lines: {"id", "text"} with optional "title" and "url".',
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='JSON lines: {"id", "score", "label", "categories", "hits", "rules_label", "model"}.',
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ADCLEAR_RULES",
    help="Rule-pack directory (default: the bundled classifier/rules; also $ADCLEAR_RULES).",
)
def classify(input_path: Path, output_path: Path, rules_dir: Path | None) -> None:
    """Classify any text: JSON lines in, one verdict per line out (written only if every line is valid).

    It uses the rules and the bundled model (classifier/models/default.npz), not a model promoted with
    `adclear model promote`: that one scores crawled ads and `adclear reclassify`."""
    classifier = load_classifier(rules_dir)
    counts = {"flag": 0, "watch": 0, "clear": 0}
    output_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".classify-", dir=output_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out, input_path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                row = _input_row(input_path, number, line)
                verdict = classifier.classify(
                    row["text"], title=str(row.get("title") or ""), url=str(row.get("url") or "")
                )
                data = verdict.to_dict()
                keep = {"id": row.get("id"), **{k: data[k] for k in ("score", "label", "categories", "hits")}}
                keep["rules_label"] = data["rules_label"]
                keep["model"] = {k: v for k, v in data["model"].items() if k != "explain"}
                out.write(json.dumps(keep, ensure_ascii=False) + "\n")
                counts[verdict.label] += 1
        os.replace(tmp, output_path)
    except UnicodeDecodeError:
        raise AdclearError(f"{input_path}: not UTF-8 text; nothing was written") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    total = sum(counts.values())
    echo(
        f"{total} texts classified: {counts['flag']} flag, {counts['watch']} watch, {counts['clear']} clear "
        f"→ {output_path}"
    )


def _input_row(input_path: Path, number: int, line: str) -> dict[str, Any]:
    """One line of ``adclear classify``'s input: a JSON object with a "text" string, else an error."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise AdclearError(f"{input_path} line {number}: not JSON ({e.msg}); nothing was written") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise AdclearError(f'{input_path} line {number}: needs a "text" string; nothing was written')
    return row


@click.command()
@click.option("--limit", default=50, show_default=True, type=ID, help="How many items to list.")
@click.pass_obj
def queue(cfg: Config, limit: int) -> None:
    """Ads waiting for review, highest score first (flag before watch)."""
    db = cfg.db()
    items = review_queue.items(db, limit=limit)
    counts = review_queue.totals(db)
    if not items:
        echo("The queue is empty.")
        return
    echo(f"{'ad':>6}  {'label':<5} {'score':>5}  {'cluster':>9}  {'category':<14} {'site':<18} title")
    for item in items:
        cats = item["categories"][0] if item["categories"] else "—"
        held = f"  [claimed by {item['claimed_by']}]" if item["claimed_by"] else ""
        size = item.get("cluster_size") or 1
        cluster = f"{item['cluster_id']}×{size}" if size > 1 else "—"
        echo(
            f"{item['ad_id']:>6}  {item['label']:<5} {item['score']:>5g}  {cluster:>9}  {fit(cats, 14)} "
            f"{item['site']:<18} {_short(item['title'], 40)}{held}"
        )
    total = counts["open"]
    echo(
        f"{total} waiting ({counts['flag']} flag, {counts['watch']} watch)"
        + (f"; showing {len(items)}" if len(items) < total else "")
    )


@click.command()
@click.argument("ad_id", type=ID)
@click.pass_obj
def show(cfg: Config, ad_id: int) -> None:
    """An ad: its text, score, rule hits with the matched words and legal basis, evidence and history."""
    d = adview.ad_detail(cfg.db(), ad_id)
    ad = d["ad"]
    echo(f"广告 {ad['id']} · {ad['platform']} ({ad['site']}) · 状态 {ad['status']}")
    echo(f"链接: {ad['url']}")
    echo(f"标题: {ad['title']}")
    echo(f"发布者: {ad['author'] or '—'}  发布时间: {d['posted_at'] or '—'}  联系方式: {ad['contact'] or '—'}")
    echo(f"首次发现: {d['first_seen']}  最近发现: {d['last_seen']}  监测条次: {d['sightings']}")
    echo("")
    echo(ad["body"])
    echo("")
    if d["verdict"] is None:
        echo("未分类")
    else:
        for line in d["explain"]:
            echo(line)
    for ev in d["evidence"]:
        echo(
            f"证据: {ev['kind']} SHA-256 {ev['sha256']} · {ev['fetched_at_local']} · "
            f"{ev['warc_file']}@{ev['warc_offset']}"
        )
    _show_pictures(cfg.db(), ad_id, d["verdict"]["hits"] if d["verdict"] else [])
    for dec in d["decisions"]:
        what = f"确认违法【{dec['category']}】" if dec["decision"] == "confirmed" else f"驳回（{dec['reason']}）"
        undone = f" · 已撤销（台账 #{dec['reversed_seq']}）" if dec["reversed_seq"] else ""
        echo(f"决定: {what} · {dec['reviewer']} · {dec['decided_at_local']} · 台账 #{dec['ledger_seq']}{undone}")
    if d["claimed_by"]:
        echo(f"认领: {d['claimed_by']}")


def _box(box: tuple[tuple[int, int], ...]) -> str:
    return " ".join(f"({x},{y})" for x, y in box)


def _show_pictures(db: sqlite_utils.Database, ad_id: int, hits: list[dict[str, Any]]) -> None:
    """The ad's pictures: each line of text read with its box, its QR codes, and the hits found in them."""
    for n, pic in enumerate(pictures_of(db, ad_id), 1):
        read = pic.read
        state = "未读取 (adclear images read)" if read is None else f"{read.status} {read.error}".rstrip()
        echo(f"图片 {n}: {pic.kind} SHA-256 {pic.sha256} · {pic.url or '—'} · {state}")
        for line in read.lines if read else ():
            echo(f"  图中文字: {line.text} · 框 {_box(line.box)}")
        for code in read.codes if read else ():
            echo(f"  二维码: {code}")
    for m in picture_hits(db, ad_id, hits):
        echo(f"图中命中: {m.hit['name']}「{m.hit['matched']}」· 图片 {m.sha256[:12]} · 框 {_box(m.line.box)}")


@click.group()
def review() -> None:
    """Decide a flagged ad: confirm it as an illegal-fundraising ad, or reject the flag."""


def _target(ad_id: int | None, cluster: int | None) -> None:
    if (ad_id is None) == (cluster is None):
        raise click.UsageError("give either AD_ID or --cluster ID")


DESPITE_HELP = (
    "Why to decide so although a near-duplicate was decided the other way (without it, such a decision is "
    "refused with the near-duplicates named); recorded in the ledger."
)


def _agreed_category(db: sqlite_utils.Database, ad_id: int | None, cluster: int | None) -> str:
    """The category when --category is left out: the one the hits name; several or none: an error."""
    if cluster is None:
        assert ad_id is not None
        return consistency.require_category(db, [ad_id], f"ad {ad_id}")
    ids = consistency.undecided_in_cluster(db, cluster)
    if not ids:
        raise InvalidChoice(f"cluster {cluster} has no undecided ad (`adclear queue` shows each ad's cluster)")
    return consistency.require_category(db, ids, f"cluster {cluster}")


@review.command()
@click.argument("ad_id", type=ID, required=False)
@click.option("--cluster", type=ID, help="Decide every undecided ad of this cluster of near-duplicates at once.")
@click.option(
    "--category",
    help="涉嫌类型, e.g. 投资理财/P2P网贷 (see `adclear categories`); may be left out only when the rule hits "
    "name one category (several: the error lists them with their words).",
)
@click.option("--reason", required=True, help="Why it is illegal, in the reviewer's words.")
@click.option("--as", "reviewer", help="The reviewer's account (default $ADCLEAR_USER, else the login name).")
@click.option("--legal-basis", help="Override the legal basis the rule hits suggest.")
@click.option("--action", default="通知删除", show_default=True, help="处置方式 to request.")
@click.option("--note", default="", help="A note for the ledger.")
@click.option("--despite", default="", help=DESPITE_HELP)
@click.pass_obj
def confirm(
    cfg: Config,
    ad_id: int | None,
    cluster: int | None,
    category: str | None,
    reason: str,
    reviewer: str | None,
    legal_basis: str | None,
    action: str,
    note: str,
    despite: str,
) -> None:
    """Confirm AD_ID (or a whole --cluster) as illegal: recorded in the ledger with a takedown request."""
    _target(ad_id, cluster)
    db = cfg.db()
    if category is None:
        category = _agreed_category(db, ad_id, cluster)
    choice = {
        "reviewer": acting_account(db, reviewer),
        "category": category,
        "reason": reason,
        "legal_basis": legal_basis,
        "action": action,
        "note": note,
        "settings": cfg.review_settings(),
        "despite": despite,
    }
    if cluster is not None:
        made = decisions.confirm_cluster(db, cluster, **choice)
        seqs = [s for d in made for s in d.ledger_seqs]
        echo(
            f"cluster {cluster}: {len(made)} ads confirmed ({category}; {made[0].legal_basis}): "
            f"{', '.join(str(d.ad_id) for d in made)}; ledger entries {seqs[0]}–{seqs[-1]}; "
            f"takedowns requested: {action}"
        )
        return
    d = decisions.confirm(db, ad_id, **choice)
    echo(
        f"ad {ad_id} confirmed ({category}; {d.legal_basis}); ledger entries {', '.join(map(str, d.ledger_seqs))}"
        f"; takedown requested: {action}"
    )


@review.command()
@click.argument("ad_id", type=ID, required=False)
@click.option("--cluster", type=ID, help="Reject every undecided ad of this cluster of near-duplicates at once.")
@click.option("--reason", required=True, help="防非宣传, 新闻报道, 持牌机构合规, 非集资广告 or 其他 (needs --note).")
@click.option("--as", "reviewer", help="The reviewer's account (default $ADCLEAR_USER, else the login name).")
@click.option("--note", default="", help="A note for the ledger.")
@click.option("--despite", default="", help=DESPITE_HELP)
@click.pass_obj
def reject(
    cfg: Config, ad_id: int | None, cluster: int | None, reason: str, reviewer: str | None, note: str, despite: str
) -> None:
    """Reject the flag on AD_ID (or a whole --cluster): not an illegal-fundraising ad, with a reason."""
    _target(ad_id, cluster)
    db = cfg.db()
    who = acting_account(db, reviewer)
    choice = {"reviewer": who, "reason": reason, "note": note, "settings": cfg.review_settings(), "despite": despite}
    if cluster is not None:
        made = decisions.reject_cluster(db, cluster, **choice)
        echo(
            f"cluster {cluster}: {len(made)} ads rejected ({reason}): {', '.join(str(d.ad_id) for d in made)}; "
            f"ledger entries {made[0].ledger_seqs[0]}–{made[-1].ledger_seqs[0]}"
        )
        return
    d = decisions.reject(db, ad_id, **choice)
    echo(f"ad {ad_id} rejected ({reason}); ledger entry {d.ledger_seqs[0]}")


@review.command()
@click.argument("ad_id", type=ID)
@click.option("--reason", required=True, help="Why the decision was wrong.")
@click.option("--as", "reviewer", help="A supervisor's account (default $ADCLEAR_USER, else the login name).")
@click.pass_obj
def reverse(cfg: Config, ad_id: int, reason: str, reviewer: str | None) -> None:
    """Reverse AD_ID's decision: a new ledger entry; the ad goes back to review and out of its index."""
    db = cfg.db()
    who = acting_account(db, reviewer, "supervisor")
    seq = decisions.reverse(db, ad_id, reviewer=who, reason=reason, settings=cfg.review_settings())
    echo(f"ad {ad_id}: decision reversed (ledger entry {seq}); the ad is back in review")


@click.group()
def ledger() -> None:
    """The clearance ledger (违法广告清理台账): show entries, verify the hash chain."""


@ledger.command("show")
@click.option("--last", type=ID, help="Only the last N entries.")
@click.option("--ad", "ad_id", type=ID, help="Only the entries about one ad.")
@click.pass_obj
def ledger_show(cfg: Config, last: int | None, ad_id: int | None) -> None:
    """Print ledger entries, oldest first."""
    rows = chain.entries(cfg.db(), last=last, ad_id=ad_id)
    if not rows:
        echo("The ledger is empty.")
        return
    for e in rows:
        label = chain.ACTIONS.get(e.action, e.action)
        brief = {k: e.payload[k] for k in ("category", "reason", "takedown_action", "url") if k in e.payload}
        echo(
            f"#{e.seq} {local(e.at, '%Y-%m-%d %H:%M:%S')} {e.actor} {label} ad {e.ad_id} "
            f"{json.dumps(brief, ensure_ascii=False)} hash {e.hash[:16]}…"
        )


@ledger.command("verify")
@click.option("--checkpoint", help="SEQ:HASH from an earlier export or `ledger verify`: the chain must still hold it.")
@click.pass_obj
def ledger_verify(cfg: Config, checkpoint: str | None) -> None:
    """Recompute the hash chain; print the head. Exits 1 at the first bad entry."""
    point = None
    if checkpoint:
        try:
            point = chain.parse_checkpoint(checkpoint)
        except ValueError as e:
            raise InvalidChoice(str(e)) from None
    db = cfg.db()
    anchor = anchors.latest(db)
    result = chain.verify(db, checkpoint=point, anchor=anchor)
    if not result.ok and result.kind.startswith("checkpoint"):  # the chain holds; the checkpoint does not
        raise AdclearError(f"ledger holds, but not against the checkpoint: {result.problem}")
    if not result.ok:
        raise AdclearError(f"ledger broken: {result.problem}")
    if result.head is None:
        echo("ledger ok: empty")
    else:
        suffix = f"; checkpoint {point.seq} holds" if point else ""
        suffix += f"; anchor {anchor.seq} holds" if anchor else ""
        echo(f"ledger ok: {result.entries} entries, head {result.head}{suffix}")


@click.command()
@click.argument("ad_id", type=ID)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the files into.",
)
@click.pass_obj
def evidence(cfg: Config, ad_id: int, out_dir: Path) -> None:
    """Write AD_ID's archived page(s) and screenshot(s) out of the WARC files, checked against their SHA-256."""
    files = ad_evidence.export_evidence(cfg.db(), cfg.db_path.parent, ad_id, out_dir)
    for f in files:
        echo(f"{f.kind:<10} {f.sha256}  {f.path}")
    echo(f"{len(files)} file(s) verified; digests in {out_dir / 'SHA256SUMS'}")


@click.command()
@click.pass_obj
def recluster(cfg: Config) -> None:
    """Group ads with their near-duplicates (reposts, edited copies) so a cluster can be decided at once."""
    counts = do_recluster(cfg.db())
    echo(
        f"{counts['ads']} ads fingerprinted ({counts['fingerprinted']} new); {counts['in_clusters']} of them "
        f"in {counts['clusters']} clusters of near-duplicates"
    )


@click.command()
def categories() -> None:
    """The 涉嫌类型 a confirmation can name, and the reject reasons."""
    echo("涉嫌类型 (--category):")
    for c in CATEGORIES:
        echo(f"  {c}  ({CATEGORY_LEGAL_BASIS[c]})")
    echo("驳回理由 (--reason): " + "、".join(REJECT_REASONS))


COMMANDS = [classify, queue, show, review, ledger, evidence, recluster, categories]
