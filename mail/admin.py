from django.contrib import admin

from mail.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "invitation_id", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["kind", "status"]
    exclude = ["secret_link", "to"]
    readonly_fields = ["kind", "invitation_id", "dedupe_key", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
