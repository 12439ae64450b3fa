"""Delivery by e-mail: a local SMTP server (aiosmtpd on 127.0.0.1) receives the notice with its PDF attached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from review.mail import Attachment, DeliveryFailed, SmtpSettings, send
from tests.smtpinbox import Inbox, free_port, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running


PDF = b"%PDF-1.7\n% a notice\n"


def test_message_arrives_with_the_pdf_attached(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="office@sfx.example")
    message_id = send(
        settings,
        to="takedown@platform.example",
        subject="删除通知 〔2026〕SFX交字第0001号",
        body="请于期限内删除。",
        attachments=(Attachment("〔2026〕SFX交字第0001号.pdf", PDF, "application/pdf"),),
    )
    assert len(inbox.messages) == 1
    got = inbox.messages[0]
    assert got["Message-ID"] == message_id and message_id.endswith("@sfx.example>")
    assert got["Subject"] == "删除通知 〔2026〕SFX交字第0001号"
    assert got["To"] == "takedown@platform.example"
    (pdf,) = [part for part in got.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "〔2026〕SFX交字第0001号.pdf"
    assert pdf.get_content() == PDF
    assert "请于期限内删除" in got.get_body(("plain",)).get_content()


def test_a_refused_recipient_is_a_failure(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.refuse.add("gone@platform.example")
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="office@sfx.example")
    with pytest.raises(DeliveryFailed, match=r"refused the recipient gone@platform.example: 550 5.1.1"):
        send(settings, to="gone@platform.example", subject="s", body="b")
    assert inbox.messages == []


def test_no_server_is_a_failure() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), sender="office@sfx.example", timeout=5)
    with pytest.raises(DeliveryFailed, match=r"cannot deliver through the mail server 127.0.0.1:\d+"):
        send(settings, to="a@b.example", subject="s", body="b")


def test_starttls_refused_by_a_server_without_it(smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="office@sfx.example", starttls=True)
    with pytest.raises(DeliveryFailed, match="STARTTLS"):
        send(settings, to="a@b.example", subject="s", body="b")


def test_the_password_stays_out_of_repr() -> None:
    settings = SmtpSettings(host="h", sender="s@x", username="u", password="hunter2")
    assert "hunter2" not in repr(settings)


def test_the_mail_server_comes_from_the_environment() -> None:
    from adclear.config import smtp_settings
    from core.errors import AdclearError

    assert smtp_settings({}) is None  # no server: notices are handed over by hand
    env = {"ADCLEAR_SMTP_HOST": "mail.example", "ADCLEAR_SMTP_FROM": "chufei@sfx.example"}
    assert smtp_settings(env) == SmtpSettings(host="mail.example", sender="chufei@sfx.example", port=25)
    full = smtp_settings(
        {**env, "ADCLEAR_SMTP_PORT": "587", "ADCLEAR_SMTP_STARTTLS": "1", "ADCLEAR_SMTP_USER": "u",
         "ADCLEAR_SMTP_PASSWORD": "p"}
    )  # fmt: skip
    assert full is not None and (full.port, full.starttls, full.username, full.password) == (587, True, "u", "p")
    with pytest.raises(AdclearError, match=r"\$ADCLEAR_SMTP_PORT must be a port number, not '25x'"):
        smtp_settings({**env, "ADCLEAR_SMTP_PORT": "25x"})
    with pytest.raises(AdclearError, match=r"\$ADCLEAR_SMTP_FROM must be the From address"):
        smtp_settings({"ADCLEAR_SMTP_HOST": "mail.example"})
    with pytest.raises(AdclearError, match=r"\$ADCLEAR_SMTP_STARTTLS must be 1 or 0"):
        smtp_settings({**env, "ADCLEAR_SMTP_STARTTLS": "maybe"})
