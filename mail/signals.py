"""Sent by delivery inside the transaction that records the outcome; receivers write their own records."""

from django.dispatch import Signal

message_delivered = Signal()  # sender=Message class, message=Message
message_failed = Signal()  # sender=Message class, message=Message (no more tries)
