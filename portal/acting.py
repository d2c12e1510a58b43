"""Whom the signed-in account acts for on this request: itself (as a patient) or a person it holds an
active proxy grant for. Worked out on every request from the database (never trusted from the
session alone), once per request."""

from dataclasses import dataclass, field

from access import proxy_selectors
from access.models import Proxy
from portal import proxy_accepting, selectors


@dataclass
class People:
    """Everyone the account may open the portal for: itself, if it has a live connection, and its grants."""

    self_connected: bool
    grants: list[Proxy] = field(default_factory=list)

    @property
    def acts_for_others(self) -> bool:
        return bool(self.grants)


def people(request) -> People:
    if not hasattr(request, "_portal_people"):
        user = request.user
        if not user.is_authenticated or hasattr(user, "staff"):
            request._portal_people = People(False)
        else:
            request._portal_people = People(selectors.live_connections(user).exists(),
                                            list(proxy_selectors.active_grants_of(user)))
    return request._portal_people


def acting_for(request) -> Proxy | None:
    """The active grant chosen in this browser, or None (the account's own record, or nobody yet). A
    choice whose grant has ended is dropped here, on the first request after it ended."""
    chosen = proxy_accepting.chosen(request.session)
    if chosen in (None, proxy_accepting.SELF):
        return None
    grant = next((g for g in people(request).grants if g.pk == chosen), None)
    if grant is None:
        proxy_accepting.forget_choice(request.session)
    return grant


def chose_self(request) -> bool:
    return proxy_accepting.chosen(request.session) == proxy_accepting.SELF
