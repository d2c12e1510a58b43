"""Whom the signed-in account acts for, on every portal page (portal.acting decides, per request)."""

from django import template

from portal import acting

register = template.Library()


@register.inclusion_tag("portal/_acting_for.html", takes_context=True)
def acting_for_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated or hasattr(user, "staff"):
        return {"show": False}
    people = acting.people(request)
    return {"show": people.acts_for_others, "grant": acting.acting_for(request), "user": user}
