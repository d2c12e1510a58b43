"""The staff pages' scoping edge: a page that asked for another practice's record answers 404 (Django
does that for the OtherPractice clinic.selectors raised); here the probe is recorded first."""

from access.actions import audit
from clinic.selectors import OtherPractice
from portico.client import Client


class RecordOtherPracticeProbes:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OtherPractice):
            audit.record_foreign_id(exception.staff, exception.kind, exception.record_id,
                                    client=Client.from_request(request))
        return None  # Django goes on to answer 404
