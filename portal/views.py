# Placeholder views so the portal's URLs exist; the patient journey (issue 4) replaces them.
from django.http import HttpResponse


def landing(request, token: str):
    return HttpResponse("Patient portal: coming soon.", content_type="text/plain")


def login(request):
    return HttpResponse("Patient portal: coming soon.", content_type="text/plain")


def home(request):
    return HttpResponse("Patient portal: coming soon.", content_type="text/plain")
