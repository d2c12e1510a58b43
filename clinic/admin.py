from django.contrib import admin

from clinic.models import Appointment, Notification, Patient, Practice, StaffMember


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    readonly_fields = ["history_head"]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "practice", "role"]
    list_filter = ["practice", "role"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["chart_number", "last_name", "first_name", "practice"]
    list_filter = ["practice"]
    search_fields = ["chart_number", "last_name", "first_name"]
    # Contact details are shown, not edited, here: changes go through the staff pages, which apply the
    # access rules (a new email revokes a pending invitation) and record them. The SSN is masked.
    exclude = ["ssn"]
    readonly_fields = ["practice", "email", "masked_ssn", "date_of_birth", "phone"]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["starts_at", "patient", "doctor", "status"]
    list_filter = ["practice", "status"]
    raw_id_fields = ["patient"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "text", "read_at"]
