import re

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops.health import report


@never_cache
@require_GET
def health(request):
    """For a load balancer, without sign-in: 200 whenever this web node can serve pages (its database
    answers), 503 only when it cannot. Silent task workers do not fail it: taking web nodes out of service
    would not bring a worker back. The body still says how the workers and the mail are doing."""
    body = report()
    return JsonResponse(body, status=200 if body["database"] == "ok" else 503)


# A host name as workers record it (mail.delivery.worker_name keeps its first 44 characters).
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,43}")


@never_cache
@require_GET
def health_workers(request):
    """For a monitor of the background side (mail, tasks, periodic jobs), without sign-in: 503 when no
    task worker beat within WORKER_SILENT_AFTER or the database is unreachable, 200 otherwise.
    `?host=<name>`: only the workers of that machine (as `hostname` prints it) count."""
    host = request.GET.get("host", "")
    if host and not HOST_NAME.fullmatch(host):
        return JsonResponse({"error": "host must be a machine's host name (letters, digits, dots, dashes and underscores)"},
                            status=400)
    body = report(host[:44])
    return JsonResponse(body, status=200 if body.get("worker") == "ok" else 503)
