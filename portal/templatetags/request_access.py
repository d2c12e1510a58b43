"""The "Request portal access" link on pages that do not know the practice from their own context."""

from django import template

from portal import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def practice_asked_about(context):
    """The practice named by `?practice=<id>` (the request page's "Sign in" link carries it), or None;
    anything else in the parameter is ignored."""
    value = context["request"].GET.get("practice", "")
    return selectors.practice(int(value)) if value.isdigit() and len(value) < 12 else None
