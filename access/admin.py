from django.contrib import admin

from access.models import AccessEvent, Connection, Invitation


class ReadOnlyAdmin(admin.ModelAdmin):
    """Access records change only through access.actions; the admin may look, never touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["id", "patient", "status", "channel", "sent_at", "expires_at"]
    list_filter = ["status", "channel", "practice"]
    exclude = ["token_hash"]


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "patient", "account", "connected_at", "ended_at", "end_reason"]


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "practice", "patient", "action", "actor_kind", "outcome"]
    list_filter = ["practice", "action"]
