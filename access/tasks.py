"""Background work for access. Tasks hold no rules: they call access.actions."""

from django.tasks import task

from access import actions


@task(queue_name="default")
def run_invitation_job(job_id: int) -> None:
    """Send a bulk invitation job (or what is left of it, if a killed worker's run is resumed)."""
    actions.run_invitation_job(job_id)
