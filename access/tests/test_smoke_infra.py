from access import actions
from access.models import Channel, Invitation
from conftest import run_worker


def test_it_sends_over_real_smtp(cast, smtp_server, django_capture_on_commit_callbacks):
    sent = actions.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    run_worker()
    assert Invitation.objects.get().pk == sent.invitation.pk
    assert len(smtp_server.envelopes) == 1
