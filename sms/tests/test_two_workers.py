"""Two workers at once on PostgreSQL: every text goes out exactly once (SKIP LOCKED claims)."""

import pytest

from conftest import at_once, postgres_only
from sms import delivery
from sms.models import TextMessage
from sms.tests.helpers import queue_text

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def test_two_workers_send_each_text_once(sms_provider):
    numbers = [f"+1555555{i:04d}" for i in range(40)]
    for number in numbers:
        queue_text(number)

    tried = at_once(lambda: delivery.deliver_due(worker="a", batch_size=5),
                    lambda: delivery.deliver_due(worker="b", batch_size=5))

    assert sum(tried) == 40
    assert sorted(t["to"] for t in sms_provider.texts) == numbers
    assert set(TextMessage.objects.values_list("status", flat=True)) == {TextMessage.Status.ACCEPTED}
    assert set(TextMessage.objects.values_list("claimed_by", flat=True)) == {"a", "b"}

