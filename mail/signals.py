"""Sent by delivery inside the transaction that records the outcome; receivers write their own records."""

from django.dispatch import Signal

# Once per batch, for every message of it the server accepted, so receivers record them set-wise.
messages_delivered = Signal()  # sender=Message class, messages=list[Message]
message_failed = Signal()  # sender=Message class, message=Message (no more tries)
message_skipped = Signal()  # sender=Message class, message=Message (marked skipped: not sent)
# Sent by delivery for each claimed batch before anything goes out: a receiver returns the ids of the
# messages that must no longer be sent (what they are about ended meanwhile), or nothing.
before_send = Signal()  # sender=Message class, messages=list[Message]
