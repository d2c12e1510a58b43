"""Texts on the staff pages: recording a patient's consent to texts (Portal Access), and the
development Phone page (PORTICO_MAILBOX), which shows the texts the local provider stand-in took
from this practice, like the Mailbox shows its mail."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from access import errors
from access.actions.texting import record_text_consent
from clinic.decorators import staff_required
from clinic.forms import TextConsentForm
from clinic.views.common import client_of, load_patient
from clinic.views.mailbox import mailbox_enabled
from sms import phone
from sms.models import TextMessage


@login_required
@staff_required
@require_POST
def text_consent(request, patient_id: int):
    patient = load_patient(request, patient_id)
    form = TextConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Nothing was recorded: %(problems)s")
                       % {"problems": " ".join(e for errs in form.errors.values() for e in errs)})
        return redirect("clinic:portal-access", patient.pk)
    try:
        record_text_consent(patient, number=form.cleaned_data["mobile_phone"], consented=form.cleaned_data["consented"],
                            source=form.cleaned_data["source"], by=request.staff, client=client_of(request))
    except (errors.Refusal, ValidationError) as e:
        messages.error(request, getattr(e, "message", None) or " ".join(e.messages))
    else:
        messages.success(request, gettext("Consent to texts recorded.") if form.cleaned_data["consented"]
                         else gettext("Recorded: no consent to texts."))
    return redirect("clinic:portal-access", patient.pk)


@mailbox_enabled
@login_required
@staff_required
def phone_list(request):
    sids = TextMessage.objects.filter(practice_id=request.staff.practice_id, provider_sid__isnull=False)
    texts = phone.caught_texts(settings.PORTICO_PHONE_LOG, set(sids.values_list("provider_sid", flat=True)))
    statuses = dict(sids.filter(provider_sid__in=[t.sid for t in texts]).values_list("provider_sid", "status"))
    return render(request, "clinic/phone.html", {
        "texts": [(t, TextMessage.Status(statuses[t.sid]).label) for t in texts],
        "log": settings.PORTICO_PHONE_LOG, "section": "phone"})
