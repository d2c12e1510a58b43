"""Sent by sms.delivery and sms.callbacks inside the transaction that records what happened; access
receivers write their own records (history, the bell, the consent ledger)."""

from django.dispatch import Signal

# Before a claimed batch goes out: receivers return the pks of texts that must no longer be sent
# (consent withdrawn meanwhile, the invitation no longer pending), or nothing.
before_send = Signal()  # sender=TextMessage class, texts=list[TextMessage]
text_delivered = Signal()  # sender=TextMessage class, text=TextMessage (the carrier delivered it)
text_failed = Signal()  # sender=TextMessage class, text=TextMessage (refused, undelivered or out of tries)
text_skipped = Signal()  # sender=TextMessage class, text=TextMessage
text_received = Signal()  # sender=InboundText class, inbound=InboundText (once per provider sid)
