"""What every API request goes through before its endpoint, in this order: the body's size and shape
(no NUL characters, which PostgreSQL cannot store), the token (api.auth), the token's rate limit, and
for POST/PATCH/DELETE the Idempotency-Key. Installed once on the whole API (NinjaAPI.add_decorator,
"view" mode: it wraps each operation, so it sees the finished response and can store it). Every answer,
refusals and replays included, is marked Cache-Control: no-store, private: it may hold patient data."""

import datetime
import hashlib
import time
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from api.auth import bearer
from api.errors import problem_response
from api.models import ApiToken, IdempotentRequest, RateWindow

WRITES = ("POST", "PATCH", "PUT", "DELETE")
# Stored responses are replayed for this long; after it the key may be used afresh.
KEEP_FOR = datetime.timedelta(hours=24)
# A first request that never finished (its process died) stops holding its key after this.
IN_PROGRESS_FOR = datetime.timedelta(minutes=5)
RATE_WINDOW_SECONDS = 60


def guard(run):
    @wraps(run)
    def wrapper(request, *args, **kwargs) -> HttpResponse:
        response = _guarded(run, request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper


def _guarded(run, request, *args, **kwargs) -> HttpResponse:
    if refused := _check_body(request) or _check_query(request, run):
        return refused
    token = bearer(request)
    if token is None:  # the operation's own auth check answers 401
        return run(request, *args, **kwargs)
    if wait := over_rate_limit(token):
        return problem_response(429, "rate_limited", f"Too many requests; try again in {wait} seconds.",
                                headers={"Retry-After": str(wait)})
    key = request.headers.get("Idempotency-Key")
    if request.method not in WRITES or key is None:
        return run(request, *args, **kwargs)
    return _idempotent(request, token, key, lambda: run(request, *args, **kwargs))


def _check_body(request) -> HttpResponse | None:
    limit = settings.PORTICO_API_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return problem_response(413, "too_large", f"The body may be at most {limit} bytes.")
    try:
        body = request.body
    except RawPostDataException:
        body = b""
    if b"\x00" in body or b"\\u0000" in body or "\x00" in request.META.get("QUERY_STRING", "") \
            or "%00" in request.META.get("QUERY_STRING", ""):
        return problem_response(400, "bad_request", "Text may not contain NUL characters.")
    return None


def _check_query(request, run) -> HttpResponse | None:
    """Refuse query parameters the operation does not declare (a misspelt filter must not silently
    widen a search). `run` is the ninja Operation's bound run method; its models name the parameters."""
    operation = getattr(run, "__self__", None)
    known = {name for model in getattr(operation, "models", ()) if model.__ninja_param_source__ == "query"
             for name in getattr(model, "__ninja_flatten_map__", model.model_fields)}
    if unknown := sorted(set(request.GET) - known):
        return problem_response(400, "bad_request", f"Unknown query parameter(s): {', '.join(unknown)}.")
    return None


# --- rate limits ---------------------------------------------------------------------------------

def over_rate_limit(token: ApiToken) -> int:
    """Count this request in the token's fixed window; 0 if allowed, else the seconds to wait. Counted
    in the database, so every web process shares one count per token."""
    now = time.time()
    window = int(now) // RATE_WINDOW_SECONDS * RATE_WINDOW_SECONDS
    counted = RateWindow.objects.filter(token=token, window=window)
    if not counted.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateWindow.objects.create(token=token, window=window, count=1)
        except IntegrityError:  # another request of the same token created it first
            counted.update(count=F("count") + 1)
    if counted.values_list("count", flat=True).get() <= settings.PORTICO_API_RATE_LIMIT:
        return 0
    return max(1, int(window + RATE_WINDOW_SECONDS - now + 0.999))


# --- idempotency ---------------------------------------------------------------------------------

def _idempotent(request, token: ApiToken, key: str, run) -> HttpResponse:
    """Replay the stored response for a key already used with the same request; refuse it with another
    request (422) or while its first request is still running (409); otherwise run and store."""
    if not 1 <= len(key) <= 255 or not key.isprintable():
        return problem_response(400, "bad_request", "An Idempotency-Key is 1 to 255 printable characters.")
    fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.path.encode(), request.body])).hexdigest()
    row = _claim(token, key, fingerprint)
    if isinstance(row, HttpResponse):
        return row
    response = run()
    if response.status_code >= 500:
        row.delete()  # nothing useful to replay: let the client try the key again
        return response
    IdempotentRequest.objects.filter(pk=row.pk).update(
        status_code=response.status_code, content_type=response.get("Content-Type", ""), body=response.content)
    return response


def _claim(token: ApiToken, key: str, fingerprint: str) -> IdempotentRequest | HttpResponse:
    now = timezone.now()
    for _ in range(2):
        existing = IdempotentRequest.objects.filter(token=token, key=key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    return IdempotentRequest.objects.create(token=token, key=key, fingerprint=fingerprint,
                                                            created_at=now)
            except IntegrityError:  # the same key, sent twice at once: the other one holds it
                continue
        stale = existing.created_at <= now - (KEEP_FOR if existing.status_code else IN_PROGRESS_FOR)
        if stale:
            # Taken over conditionally, so two late retries cannot both run.
            if IdempotentRequest.objects.filter(pk=existing.pk, created_at=existing.created_at).update(
                    fingerprint=fingerprint, created_at=now, status_code=None, content_type="", body=b""):
                existing.refresh_from_db()
                return existing
            continue
        if existing.fingerprint != fingerprint:
            return problem_response(422, "idempotency_key_reused",
                                    "This Idempotency-Key was used with a different request.")
        if existing.status_code is None:
            return problem_response(409, "idempotency_key_in_use",
                                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                                    headers={"Retry-After": "1"})
        return _replay(existing)
    return problem_response(409, "idempotency_key_in_use", "A request with this Idempotency-Key is being processed.",
                            headers={"Retry-After": "1"})


def _replay(row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status_code, content_type=row.content_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


def purge_old_records() -> int:
    """Forget idempotency keys past KEEP_FOR and rate windows past their minute; returns rows removed."""
    now = timezone.now()
    keys, _ = IdempotentRequest.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    windows, _ = RateWindow.objects.filter(window__lt=int(time.time()) - 2 * RATE_WINDOW_SECONDS).delete()
    return keys + windows
