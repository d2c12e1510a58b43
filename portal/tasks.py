"""Work the patient's pages hand to the task worker. Tasks hold no rules: they call access.actions."""

from django.contrib.auth import get_user_model
from django.tasks import task

from access.actions import passwords
from portico.client import Client


@task()
def send_password_reset(account_id: int | None, client_ip: str | None, user_agent: str, language: str = "en") -> bool:
    """Queued for every reset request, with None when the address has no account, so the request
    itself takes the same time either way; only here is a mail (maybe) queued. `language`: the
    page's, for an account that never chose one."""
    account = get_user_model().objects.filter(pk=account_id).first() if account_id else None
    return passwords.send_password_reset(account, client=Client(client_ip, user_agent), language=language)
