"""Mail backends of our own: ``OV_MAIL_BACKEND=file`` writes one ``.eml`` file per message.

Flask-Mailman's ``file`` backend appends every message of a connection to one ``.log`` file,
separated by dashes: not something a mail program opens. This one writes each message whole
into its own ``<time>-<random>.eml`` in ``MAIL_FILE_PATH`` (``instance/mail/`` by default),
under a temporary name first and then renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from flask_mailman.backends.file import EmailBackend as MailmanFileBackend

SUFFIX = ".eml"


class EmailBackend(MailmanFileBackend):
    """One RFC 5322 ``.eml`` file per message (opens in any mail program)."""

    def open(self) -> bool:
        return False  # nothing to keep open: each message gets its own file

    def close(self) -> None:
        return None

    def _new_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        return os.path.join(self.file_path, f"{stamp}-{secrets.token_hex(4)}{SUFFIX}")

    def write_message(self, message) -> None:
        data = message.message().as_bytes()
        final = self._new_name()
        scratch = final + ".part"
        with open(scratch, "xb") as handle:
            handle.write(data)
        os.replace(scratch, final)

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages or ():
            try:
                self.write_message(message)
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
