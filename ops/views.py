from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ops.health import report


@never_cache
@require_GET
def health(request):
    """For a load balancer or monitor, without sign-in: 200 when healthy, 503 otherwise (see ops.health)."""
    body = report()
    return JsonResponse(body, status=200 if body["healthy"] else 503)
