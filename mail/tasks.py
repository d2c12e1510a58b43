from django.tasks import task

from mail import delivery


@task(queue_name="emails", priority=10)
def deliver_message(message_id: int) -> bool:
    return delivery.deliver(message_id)
