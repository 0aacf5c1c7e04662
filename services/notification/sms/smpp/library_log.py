"""aiosmpplib's log lines, forwarded without the personal data they carry."""

from __future__ import annotations

import json
import logging
import re

_library_log = logging.getLogger("services.notification.sms.smpp.aiosmpplib")


class LibraryLogBridge(logging.Handler):
    """Forwards aiosmpplib's log lines to ours, keeping only fields that hold no personal data.

    The library appends a JSON dump of its arguments, which for a failed send includes the whole
    submit_sm (destination number and text); those fields never leave this handler.
    """

    _SAFE_FIELDS = frozenset(
        {
            "smpp_command",
            "command_status",
            "sequence_num",
            "exception",
            "task",
            "reason",
            "parts",
            "smsc_host",
        }
    )
    _DIGIT_RUN = re.compile(r"\d{7,}")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            head, _, tail = record.getMessage().partition(" >>> ")
            try:
                data = json.loads(tail) if tail else {}
            except ValueError:
                data = {}
            safe = {k: v for k, v in data.items() if k in self._SAFE_FIELDS} if isinstance(data, dict) else {}
            text = head + (f" {json.dumps(safe, ensure_ascii=False, default=str)}" if safe else "")
            _library_log.log(
                record.levelno, "%s", self._DIGIT_RUN.sub("<digits>", text), exc_info=record.exc_info
            )
        except Exception:
            self.handleError(record)
