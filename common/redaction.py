"""Keep children's words and identifiers out of every log line.

    from common.redaction import install
    install()  # once per process; idempotent

`install` wraps the process's log record factory, so every record, from any
logger and whatever handler later writes it (uvicorn, rasa-sdk, Rasa), has its
message, and the text of an attached exception, passed through `redact` when
it is created. Nobody logs message text on purpose (see `LOG_MESSAGE_TEXT` in
bot/settings.py, the development-only switch); this is the safety net for
what slips into a log anyway: phone numbers, e-mail addresses, ID numbers,
street addresses and "my name is ..." phrases.

Standard library only: the Rasa process (engine environment) imports it.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

PLACEHOLDER = {
    "phone": "[phone]",
    "email": "[email]",
    "id": "[id-number]",
    "address": "[address]",
    "name": "[name]",
}

_SEP = r"[ .\-]?"
# Vietnamese numbers: 0 or +84/84 then 9 digits (mobile 03/05/07/08/09) or 10 (landline 02x),
# in any grouping of spaces, dots and dashes: 0912345678, 091 234 5678, 0912.345.678,
# +84 912 345 678, (+84) 91-234-5678.
_PHONE = re.compile(
    r"(?<![\w+])(?:\(?\+?84\)?" + _SEP + r"|0)" + r"(?:\d" + _SEP + r"){8,9}\d(?!\d)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# CCCD: 12 digits; CMND: 9 digits (also passports and any other long number:
# a run of 9+ digits, possibly grouped, identifies someone more often than not).
_ID_NUMBER = re.compile(r"(?<![\w])\d{3}[ .]?\d{3}[ .]?\d{3}(?:[ .]?\d{3})?(?!\d)")
# Street addresses: "số 12 ngõ 34 phố Huế", "123 đường Lê Lợi", "ngách 5/7 hẻm 20",
# "tổ 3 khu phố 2", "thôn Đông", "xóm 4", "ấp 3", "phường Bến Nghé", "quận 1"...
_PLACE_WORD = (
    # Unaccented forms only where they are not everyday English in a log line ("to", "so", "ban"...).
    r"(?:s[oố]|ng[oõ]|ng[aá]ch|h[eẻ]m|ki[eệ]t|ph[oố]|đ[uư][oờ]ng|duong|tổ|khu ph[oố]|"
    r"th[oô]n|x[oó]m|ấp|bản|ph[uư][oờ]ng|xã|qu[aậ]n|huy[eệ]n|chung c[uư]|nhà|"
    r"tầng|phòng|lô|tòa|đ[iị]a ch[iỉ]|dia chi)"
)
_NAME_WORD = r"[A-ZĐÀ-Ỹ][\wÀ-ỹ]*"
_ADDRESS = re.compile(
    # A place word followed by a number or a capitalised name, repeated: the whole run goes.
    r"(?i:\b" + _PLACE_WORD + r")(?:\s+|\s*:\s*)(?:\d[\w/\-]*|" + _NAME_WORD + r")"
    r"(?:[ ,]+(?:(?i:" + _PLACE_WORD + r")\s*)?(?:\d[\w/\-]*|" + _NAME_WORD + r"))*"
    r"|\b\d{1,4}[A-Za-z]?(?:/\d{1,4})*\s+(?i:đường|duong|phố|pho|ngõ|ngo|hẻm|hem|kiệt|kiet)\s+[\wÀ-ỹ]+"
    r"(?:\s+" + _NAME_WORD + r")*",
    re.UNICODE,
)
# "tên em là Lan", "em tên là Nguyễn Văn A", "mình tên Minh", "my name is ..."
_NAME = re.compile(
    r"(?i:\b(?:t[eê]n|ten)\s+(?:(?:c[uủ]a\s+)?(?:em|m[iì]nh|t[oô]i|t[oớ]|tao|con|ch[aá]u|b[aạ]n)\s+)?"
    r"(?:l[aà]\s+)?|\bmy name is\s+)"
    r"(?P<name>[\wÀ-ỹ]+(?:\s+[A-ZĐÀ-Ỹ][\wÀ-ỹ]*){0,3})",
    re.UNICODE,
)


def redact(text: str) -> str:
    """`text` with phone numbers, e-mails, ID numbers, addresses and names replaced."""
    if not text:
        return text
    text = _EMAIL.sub(PLACEHOLDER["email"], text)
    text = _PHONE.sub(PLACEHOLDER["phone"], text)
    text = _ID_NUMBER.sub(PLACEHOLDER["id"], text)
    text = _ADDRESS.sub(PLACEHOLDER["address"], text)
    text = _NAME.sub(lambda m: m.group(0)[: m.start("name") - m.start(0)] + PLACEHOLDER["name"], text)
    return text


_INSTALLED_MARK = "_child_safety_redaction"


def install() -> None:
    """Redact every log record this process creates from now on (idempotent)."""
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, _INSTALLED_MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    setattr(factory, _INSTALLED_MARK, True)
    logging.setLogRecordFactory(factory)


def redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 (a bad format string: keep the template only)
        message = str(record.msg)
    if isinstance(record.args, tuple) and record.args:
        # Some formatters read the arguments themselves (uvicorn's access log unpacks them),
        # so keep their shape: each one redacted, numbers as they are.
        record.msg = redact(str(record.msg))
        record.args = tuple(_redact_arg(a) for a in record.args)
        try:
            joined = record.msg % record.args
        except Exception:  # noqa: BLE001
            joined = None
        if joined is None or redact(joined) != joined:  # only template and arguments together form one
            record.msg, record.args = redact(message), None
    else:
        record.msg = redact(message)
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        # Formatted now, redacted, and kept where Formatter looks first.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return redact(value if isinstance(value, str) else str(value))


class RedactingFilter(logging.Filter):
    """The same, as a filter, for logging configuration files (`()`: this class)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True
