"""Text in pictures (core/images.py, core/adimages.py): OCR accuracy on rendered promotions, QR decoding,
hostile pictures skipped with a reason, the bounded pool, and an ad flagged from its picture alone whose QR
code links it to another ad."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from classifier.contacts import qr_contacts
from core.adimages import Picture, attach, compose, picture_hits, pictures_of, read_pending, update_ad
from core.classifiers import load_classifier
from core.db import immediate
from core.images import ImageLimits, ImageRead, ImageReader, Line, cached, check_image, read_image, remember, sha256
from core.timeutil import now_utc
from crawler.warc import RunArchive
from demo.pictures import VARIANTS, png, qr_picture, render
from tests.conftest import run_adclear
from tests.ocrmetrics import char_accuracy
from tests.webdata import add_ad

PROMOTION = "养老公寓认购 年化收益18% 保本保息"
QR_URL = "https://u.wechat.com/EFbPxq1Az"


def test_ocr_reads_rendered_promotions_in_every_variant():
    for variant in VARIANTS:
        read = read_image(png(render(PROMOTION, variant)))
        assert read.status == "ok", (variant, read.error)
        assert char_accuracy(PROMOTION, read.text) >= 0.9, (variant, read.text)
        box = read.lines[0].box
        assert len(box) == 4 and all(0 <= x <= read.width and 0 <= y <= read.height for x, y in box)


def test_qr_codes_decoded_clean_rotated_small_and_blurred():
    cards = {
        "clean": qr_picture(QR_URL),
        "rotated": qr_picture(QR_URL, rotate=20),
        "small": qr_picture(QR_URL, scale=1),
        "blurred": qr_picture(QR_URL, blur=2.0),
    }
    for kind, card in cards.items():
        read = read_image(png(card), ocr=False)
        assert read.codes == (QR_URL,), kind
    assert [(c.kind, c.value) for c in qr_contacts([QR_URL + "/", "微信 abc12345"])] == [
        ("url", QR_URL),
        ("wechat", "abc12345"),
    ]


def test_lines_the_ad_already_says_are_not_read_twice():
    box = ((0, 0), (10, 0), (10, 10), (0, 10))
    read = ImageRead("s1", "ok", lines=(Line("保本保息 稳赚不赔", box, 1.0), Line("年化收益18%", box, 1.0)))
    text, spans = compose([Picture("s1", "screenshot", "", read)], "标题\n本公司保本保息稳赚不赔，欢迎咨询")
    assert text == "年化收益18%" and [(a, b, sha) for a, b, sha, _ in spans] == [(0, 7, "s1")]
    assert compose([Picture("s1", "image", "", read)])[0] == "保本保息 稳赚不赔\n年化收益18%"


def _gif(frames: int) -> bytes:
    buf = io.BytesIO()
    images = [Image.new("RGB", (40, 40), (i * 40, 0, 0)) for i in range(frames)]
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def test_hostile_pictures_are_skipped_with_a_reason():
    good = png(render(PROMOTION))
    bomb = io.BytesIO()
    Image.new("1", (6000, 6000)).save(bomb, "PNG")  # 36 M pixels in a few kB
    cases = {
        "truncated": (good[: len(good) // 2], "error"),
        "bomb": (bomb.getvalue(), "skipped"),
        "pixel": (png(Image.new("RGB", (1, 1))), "skipped"),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "skipped"),
        "gif": (_gif(3), "skipped"),
        "garbage": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "error"),
        "huge file": (good + b"\x00" * 200, "skipped"),
    }
    limits = ImageLimits(max_bytes=len(good) + 100)
    for name, (data, status) in cases.items():
        result = check_image(data, limits)
        assert isinstance(result, ImageRead), name
        assert result.status == status and result.error, (name, result)
    assert not isinstance(check_image(good, limits), ImageRead)


def test_reader_pool_times_out_then_reads_again_and_reads_are_kept(db):
    data = png(render(PROMOTION))
    with ImageReader(workers=1, timeout=0.01) as reader:
        slow = reader.read(data)
        assert slow.status == "error" and "not read within" in slow.error
        reader.timeout = 60
        read = reader.read(data)
    assert read.status == "ok" and "保本保息" in read.text.replace(" ", "")
    with immediate(db):
        remember(db, read)
    assert cached(db, sha256(data)) == read


def _archive(data_dir: Path, pictures: list[tuple[str, bytes]]) -> list[tuple[str, tuple[str, int, int]]]:
    """A WARC file of ``resource`` records as the crawl writes them; each picture's SHA-256 and place."""
    archive = RunArchive(data_dir, "warc/pictures.warc.gz")
    out = []
    for url, data in pictures:
        rec = archive.write_resource(url=url, content_type="image/png", data=data, fetched_at=now_utc())
        out.append((rec.sha256, (rec.warc_file, rec.offset, rec.length)))
    archive.close()
    return out


def test_picture_only_promotion_flagged_and_its_qr_links_two_ads(db, db_path):
    poster = Image.new("RGB", (560, 420), (255, 255, 255))
    poster.paste(render(PROMOTION + " 稳赚不赔", "rotated"), (0, 0))
    poster.paste(qr_picture(QR_URL), (0, 160))
    archived = _archive(
        db_path.parent,
        [("http://a.test/poster.png", png(poster)), ("http://b.test/qr.png", png(qr_picture(QR_URL)))],
    )
    first = add_ad(db, "新品推荐", "详情见图，欢迎咨询", url="http://a.test/1")
    second = add_ad(db, "周末活动", "扫码了解", url="http://b.test/2")
    assert db.execute("SELECT label FROM verdicts WHERE ad_id = ?", [first]).fetchone()[0] == "clear"
    with immediate(db):
        attach(db, first, archived[0][0], archived[0][1], url="http://a.test/poster.png")
        attach(db, second, archived[1][0], archived[1][1], url="http://b.test/qr.png")
    out = run_adclear("images", "read", "--timeout", "120", db=db_path, check=True).stdout
    assert out.startswith("2 pictures read: 2 ok, 0 skipped, 0 errors; 2 ads classified again"), out
    label, hits = db.execute(
        "SELECT label, hits FROM verdicts WHERE ad_id = ? ORDER BY id DESC LIMIT 1", [first]
    ).fetchone()
    assert label == "flag"
    marked = picture_hits(db, first, json.loads(hits))
    assert marked and all(m.sha256 == archived[0][0] and len(m.line.box) == 4 for m in marked)
    assert "保本" in db.execute("SELECT pictures FROM ads WHERE id = ?", [first]).fetchone()[0].replace(" ", "")
    linked = db.execute("SELECT ad_id FROM contacts WHERE kind = 'url' AND value = ? ORDER BY ad_id", [QR_URL])
    assert [r[0] for r in linked] == [first, second]
    assert [p.read is not None for p in pictures_of(db, second)] == [True]
    # read once: nothing pending any more
    with ImageReader(workers=1) as reader:
        assert read_pending(db, db_path.parent, reader, load_classifier())["pictures"] == 0
    shown = run_adclear("show", str(first), db=db_path, check=True).stdout
    box = " ".join(f"({x},{y})" for x, y in marked[0].line.box)
    assert f"图中命中: {marked[0].hit['name']}" in shown and f"框 {box}" in shown and f"二维码: {QR_URL}" in shown


def test_web_ad_page_draws_the_hit_box_over_the_picture_and_escapes_its_text(tmp_path):
    from review.web import create_app
    from tests.test_web import logged_in
    from tests.webdata import build

    db_path = tmp_path / "data" / "adclear.db"
    build(db_path)
    from core.db import connect

    db = connect(db_path)
    picture = png(render("保本保息"))
    ((digest, warc),) = _archive(db_path.parent, [("http://a.test/p.png", picture)])
    ad_id = add_ad(db, "新品推荐", "详情见图", url="http://a.test/hostile")
    hostile = Line("<script>alert(1)</script>年化收益18% 保本保息", ((10, 20), (300, 20), (300, 60), (10, 60)), 0.9)
    with immediate(db):
        attach(db, ad_id, digest, warc, url="http://a.test/p.png")
        remember(db, ImageRead(digest, "ok", "", 420, 84, (hostile,), (QR_URL,), 1.0, "test"))
        update_ad(db, ad_id, load_classifier(), None)
    db.close()
    app = create_app(db_path, COUNTS_TTL=0)
    app.config["TESTING"] = True
    client, _ = logged_in(app, "rev1")
    page = client.get(f"/ad/{ad_id}").text
    assert '<polygon class="hit-box" points="10,20 300,20 300,60 10,60">' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"/ad/{ad_id}/picture/{digest}" in page and QR_URL in page
    served = client.get(f"/ad/{ad_id}/picture/{digest}")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == picture
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert client.get(f"/ad/{ad_id}/picture/{'0' * 64}").status_code == 404


def test_without_ocr_each_picture_is_one_error_and_is_read_once_ocr_is_there(db, db_path, monkeypatch):
    from core import images

    class InProcess(ImageReader):
        def read(self, data: bytes) -> ImageRead:
            return read_image(data)

    def missing(im: Image.Image) -> tuple[Line, ...]:
        raise ImportError("No module named 'rapidocr_onnxruntime'")

    ((digest, warc),) = _archive(db_path.parent, [("http://a.test/p.png", png(render(PROMOTION)))])
    ad_id = add_ad(db, "新品推荐", "详情见图", url="http://a.test/x")
    with immediate(db):
        attach(db, ad_id, digest, warc)
    monkeypatch.setattr(images, "_ocr", missing)
    counts = read_pending(db, db_path.parent, InProcess(), load_classifier())
    assert (counts["pictures"], counts["error"]) == (1, 1) and cached(db, digest) is None
    monkeypatch.undo()
    counts = read_pending(db, db_path.parent, InProcess(), load_classifier())
    assert (counts["pictures"], counts["ok"]) == (1, 1) and cached(db, digest) is not None


def _read_into(db, ad_id: int, digest: str, text: str) -> None:
    """The ad's picture ``digest`` read as one line ``text`` (a stored read), and the ad brought up to date."""
    box = ((0, 0), (100, 0), (100, 20), (0, 20))
    with immediate(db):
        attach(db, ad_id, digest, ("none.warc.gz", 0, 0))
        remember(db, ImageRead(digest, "ok", "", 400, 80, (Line(text, box, 0.9),), (), 1.0, "test"))
        update_ad(db, ad_id, load_classifier(), None)


def test_words_read_in_a_picture_are_searched(db):
    from core.search_index import index_pending
    from review.search import Query, search

    ad_id = add_ad(db, "新品推荐", "详情见图，欢迎咨询", url="http://a.test/s1")
    assert search(db, Query(text="鑫盛通理财")) == []
    _read_into(db, ad_id, "a" * 64, "鑫盛通理财 年化收益18% 保本保息")
    for words in ("鑫盛通理财", "保本", "鑫盛通 年化收益"):  # trigrams, a 2-character word, two words
        assert [ad["id"] for ad in search(db, Query(text=words))] == [ad_id], words
    # a change of the pictures' text by any writer is noted for the index (m017_pictures_search's trigger)
    with immediate(db):
        db.execute("UPDATE ads SET pictures = '汇丰达投资 月息3分' WHERE id = ?", [ad_id])
    assert db.execute("SELECT ad_id FROM search_pending").fetchall() == [(ad_id,)]
    with immediate(db):
        assert index_pending(db) == 1
    assert [ad["id"] for ad in search(db, Query(text="汇丰达"))] == [ad_id]
    assert search(db, Query(text="鑫盛通理财")) == []


def test_two_ads_that_say_the_same_only_in_their_pictures_are_near_duplicates(db):
    from core.fingerprints import recluster

    poster = "鑫盛通养老公寓认购 年化收益18% 保本保息 到期原价回购 名额有限 先到先得 咨询热线见下方"
    first = add_ad(db, "新品推荐", "详情见图", url="http://a.test/n1")
    second = add_ad(db, "好物分享", "看图了解", url="http://a.test/n2")
    unrelated = add_ad(db, "二手自行车", "九成新 价格面议", url="http://a.test/n3")
    recluster(db)
    cluster = dict(db.execute("SELECT id, cluster_id FROM ads").fetchall())
    assert cluster[first] != cluster[second]  # their own words differ
    _read_into(db, first, "b" * 64, poster)
    _read_into(db, second, "c" * 64, poster)  # another picture (other bytes) of the same poster
    _read_into(db, unrelated, "d" * 64, "自行车 九成新")
    recluster(db)
    cluster = dict(db.execute("SELECT id, cluster_id FROM ads").fetchall())
    assert cluster[first] == cluster[second] == min(first, second) != cluster[unrelated]
