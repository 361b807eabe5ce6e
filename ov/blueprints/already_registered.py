"""The answer to a proved bill whose contract already has a user: registration step 1 and 3
and "Añadir contrato" in Mi oficina give the same one."""

from __future__ import annotations

from flask import request

from ov.extensions import db
from ov.htmx import render
from ov.services import audit, mail
from ov.services.validation import mask_email


def already_registered(account, owner, *, event: str = "registration_already_registered",
                       template: str = "registration/already_registered.html", **context):
    """Say so, show the owner's address masked, offer recovery, and tell the owner."""
    sent = mail.queue_registration_attempt(owner, account)
    audit.record(
        event,
        user_id=owner.id,
        client_address=request.remote_addr,
        account_id=account.id,
    )
    db.session.commit()
    mail.deliver_soon([sent])
    return render(
        template,
        "content",
        status=409,
        account=account,
        masked_email=mask_email(owner.email),
        **context,
    )
