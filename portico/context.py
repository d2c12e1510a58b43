from django.conf import settings


def portico(request) -> dict:
    return {"debug_mailbox": settings.PORTICO_MAILBOX_ENABLED}
