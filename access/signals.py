"""What access tells the rest of Portico. Sent inside the transaction that writes the events, so a
receiver's own rows (e.g. webhook deliveries in api) commit, or roll back, with them: an event is
never lost and never invented."""

from django.dispatch import Signal

# sender=AccessEvent, events=list[AccessEvent] (unsaved ids: appended in bulk). Every history event
# passes here, from access.history.append and .record, whichever action wrote it.
events_recorded = Signal()

# sender=AccessRequest, access_request=AccessRequest: a new request for portal access (not a repeat merged
# into an open one), sent inside the transaction that writes it (api.webhooks: access_request.created).
access_requested = Signal()
