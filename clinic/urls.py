from django.urls import path

from clinic.views import appointments, booking, bulk, chart, imports, mailbox, notifications, patients, settings

app_name = "clinic"
urlpatterns = [
    path("", patients.home, name="home"),
    # The development Mailbox: answers 404 unless PORTICO_MAILBOX is on.
    path("mailbox/", mailbox.mailbox_list, name="mailbox"),
    path("mailbox/<str:key>/", mailbox.mailbox_message, name="mailbox-message"),
    path("patients/", patients.patient_list, name="patients"),
    path("patients/import/", imports.import_patients, name="import-patients"),
    path("patients/import/<int:import_id>/", imports.import_report, name="import-report"),
    path("patients/import/<int:import_id>/rejected.csv", imports.rejected_rows, name="import-rejected-rows"),
    path("patients/invite/", bulk.preview, name="bulk-preview"),
    path("patients/invite/confirm/", bulk.confirm, name="bulk-confirm"),
    path("bulk-invitations/", bulk.job_list, name="bulk-jobs"),
    path("bulk-invitations/<int:job_id>/", bulk.job, name="bulk-job"),
    path("bulk-invitations/<int:job_id>/live/", bulk.job_live, name="bulk-job-live"),
    path("bulk-invitations/<int:job_id>/skipped.csv", bulk.skipped_csv, name="bulk-job-skipped"),
    path("patients/new/", booking.new_patient, name="new-patient"),
    path("patients/<int:patient_id>/", chart.chart, name="chart"),
    path("patients/<int:patient_id>/demographics/", chart.demographics, name="demographics"),
    path("patients/<int:patient_id>/appointments/", chart.chart_appointments, name="chart-appointments"),
    path("patients/<int:patient_id>/portal-access/", chart.portal_access, name="portal-access"),
    path("patients/<int:patient_id>/portal-access/enable/", chart.enable_access, name="enable-access"),
    path("patients/<int:patient_id>/portal-access/revoke/", chart.revoke_access, name="revoke-access"),
    path("patients/<int:patient_id>/portal-access/resend/", chart.resend_invitation, name="resend-invitation"),
    path("calendar/", appointments.calendar, name="calendar"),
    path("appointments/book/", booking.book_appointment, name="book-appointment"),
    path("appointments/<int:appointment_id>/", appointments.appointment, name="appointment"),
    path("appointments/<int:appointment_id>/status/", booking.appointment_status, name="appointment-status"),
    path("appointments/<int:appointment_id>/details/", appointments.appointment_details, name="appointment-details"),
    path("appointments/<int:appointment_id>/invite/", appointments.appointment_invite, name="appointment-invite"),
    path("appointments/<int:appointment_id>/resend/", appointments.appointment_resend, name="appointment-resend"),
    path("appointments/<int:appointment_id>/revoke/", appointments.appointment_revoke, name="appointment-revoke"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/read/", notifications.mark_all_read, name="notifications-read-all"),
    path("notifications/digest/", notifications.digest, name="notifications-digest"),
    path("settings/", settings.practice_settings, name="settings"),
    path("notifications/<int:notification_id>/read/", notifications.mark_read, name="notification-read"),
]
