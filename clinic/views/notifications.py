"""The bell: a staff member's own notifications (acceptances, locked and expired invitations,
undeliverable invitation emails, disconnections), and their daily digest email preference."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from clinic import selectors
from clinic.decorators import staff_required
from clinic.models import StaffMember
from clinic.views.common import PAGE_SIZE


@login_required
@staff_required
def notification_list(request):
    page = Paginator(selectors.notifications_for(request.staff), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "clinic/notifications.html", {"page": page, "section": "notifications",
                                                         "digest_form": DigestForm(instance=request.staff)})


@login_required
@staff_required
@require_POST
def mark_read(request, notification_id: int):
    notification = selectors.notification_for(request.staff, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    messages.success(request, gettext("Marked as read."))
    return redirect("clinic:notifications")


@login_required
@staff_required
@require_POST
def mark_all_read(request):
    count = request.staff.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, ngettext("Marked %(count)d notification as read.", "Marked %(count)d notifications as read.",
                                       count) % {"count": count})
    return redirect("clinic:notifications")


class DigestForm(forms.ModelForm):
    class Meta:
        model = StaffMember
        fields = ["daily_digest"]
        help_texts = {"daily_digest": gettext_lazy("At most one email a day, listing what is new since the last one.")}


@login_required
@staff_required
@require_POST
def digest(request):
    form = DigestForm(request.POST, instance=request.staff)
    form.is_valid()  # one checkbox: any post is valid
    wanted = form.cleaned_data["daily_digest"]
    # This column alone: the periodic job may be stamping last_digest_at on the same row.
    StaffMember.objects.filter(pk=request.staff.pk).update(daily_digest=wanted)
    messages.success(request, gettext("You will get a daily digest by email.") if wanted
                     else gettext("Daily digest emails are off."))
    return redirect("clinic:notifications")
