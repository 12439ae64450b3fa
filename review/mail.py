"""E-mail through SMTP: one message with attachments, accepted by the server or ``DeliveryFailed``.

``send`` builds one message (the cover text and attachments ``review.delivery`` gives it: the notice PDF) and
hands it to the configured SMTP server; the message id it returns is what the ledger's ``notice_issued`` entry
records. A delivery counts only once the server has accepted the message for every recipient: any refusal, a
server that cannot be reached, a TLS or login failure is ``DeliveryFailed`` with one line saying what happened,
and the batch shows as failed, never as sent. Settings come from the caller (``adclear.config`` reads them from
the environment); this module reads none.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from core.errors import AdclearError

__all__ = ["Attachment", "DeliveryFailed", "SmtpSettings", "send"]


class DeliveryFailed(AdclearError):
    """The SMTP server could not be reached or did not accept the message."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    sender: str  # the From address
    port: int = 25
    starttls: bool = False  # upgrade the connection with STARTTLS (required before a login on port 587)
    username: str = ""  # log in when set
    password: str = ""
    timeout: float = 30.0

    def __repr__(self) -> str:  # the password never reaches a log or a traceback
        return f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r}, starttls={self.starttls})"


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime: str  # e.g. application/pdf


def send(settings: SmtpSettings, *, to: str, subject: str, body: str, attachments: tuple[Attachment, ...] = ()) -> str:
    """Send one message to ``to``; the Message-ID the server accepted, or ``DeliveryFailed``."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    domain = settings.sender.rpartition("@")[2] or "adclear.invalid"
    message["Message-ID"] = message_id = make_msgid(domain=domain)
    message.set_content(body)
    for item in attachments:
        maintype, _, subtype = item.mime.partition("/")
        message.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    where = f"{settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryFailed(
            f"the mail server {where} refused the recipient {to}: {_reason(e.recipients)}",
            zh=f"邮件服务器 {where} 拒收收件人 {to}：{_reason(e.recipients)}",
        ) from None
    except smtplib.SMTPAuthenticationError:
        raise DeliveryFailed(
            f"the mail server {where} refused the login: check the SMTP user and password",
            zh=f"邮件服务器 {where} 拒绝登录：请管理员检查 SMTP 用户名和密码",
        ) from None
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        raise DeliveryFailed(
            f"the mail server {where} refused the message: {e.smtp_code} {text}",
            zh=f"邮件服务器 {where} 拒收邮件：{e.smtp_code} {text}",
        ) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise DeliveryFailed(
            f"cannot deliver through the mail server {where}: {e or type(e).__name__}",
            zh=f"无法通过邮件服务器 {where} 发送：{e or type(e).__name__}",
        ) from None
    if refused:
        raise DeliveryFailed(
            f"the mail server {where} refused {', '.join(refused)}: {_reason(refused)}",
            zh=f"邮件服务器 {where} 拒收 {'、'.join(refused)}：{_reason(refused)}",
        )
    return message_id


def _reason(refused: dict[str, tuple[int, bytes]]) -> str:
    code, text = next(iter(refused.values()))
    return f"{code} {text.decode('utf-8', 'replace')}"
