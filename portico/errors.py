"""What error pages and error reports may show."""

from django.views.debug import SafeExceptionReporterFilter


class PersonalDataFilter(SafeExceptionReporterFilter):
    """Django's filter, also with DEBUG on (Django's steps aside then), and without frame variables.

    POST fields a view marks with @sensitive_post_parameters are masked. No frame's local variables
    are shown at all: on a patient-record system any of them may hold a patient's details (the changes
    being saved, a form's cleaned data), and marking each one in each frame would miss some.
    """

    def is_active(self, request) -> bool:
        return True

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
