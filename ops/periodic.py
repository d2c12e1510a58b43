"""One round of the scheduled work (`manage.py run_periodic` runs one every --interval seconds).

Each kind is set-wise (a few queries per batch of due rows, none per patient), and each is one call into
the app that owns its rules: this module only says what runs and in which order."""

from access.actions.automatic import send_reinvites, send_reminders
from access.actions.expiry import expire_invitations
from access.actions.jobs import resume_stalled_jobs
from access.actions.notifications import send_digests
from access.actions.proxy_periodic import (
    expire_proxy_invitations,
    reinvite_proxies,
    run_proxy_birthdays,
    send_proxy_reminders,
)
from access.actions.requests import lapse_requests
from access.actions.worklist import notify_due_visits
from access.attempts import prune as prune_attempts
from access.history import seal_all
from api.webhooks import prune_finished as prune_webhook_deliveries
from clinic.importing import stop_stalled_imports
from ops.task_results import fail_abandoned as fail_abandoned_tasks
from ops.task_results import prune_finished as prune_task_results


def run_once() -> dict[str, int]:
    """One round, each kind's count by name: lapsed invitations first, so a re-invite sees them expired and
    a reminder skips them."""
    return {
        "sealed": seal_all(),
        "expired": expire_invitations(),
        "reinvited": send_reinvites(),
        "reminded": send_reminders(),
        # Parents and guardians (issue 21): lapsed links, reminders, then the birthdays (ended, told, limited).
        "proxy_links_expired": expire_proxy_invitations(),
        "proxy_reminded": send_proxy_reminders(),
        "proxy_reinvited": reinvite_proxies(),
        **{f"proxies_{kind}": count for kind, count in run_proxy_birthdays().items()},
        "digests": send_digests(),
        "resumed": resume_stalled_jobs(),
        "imports_stopped": stop_stalled_imports(),
        "requests_lapsed": lapse_requests(),
        "worklist_notified": notify_due_visits(),
        "pruned_deliveries": prune_webhook_deliveries(),
        "pruned_attempts": prune_attempts(),
        "abandoned_tasks": fail_abandoned_tasks(),
        "pruned_task_results": prune_task_results(),
    }
