"""The language a patient portal account chose with the language switch (portal.language).

A reading preference, not a change to anyone's access: it writes no access-history event and no mail."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from access.models import AccountLanguage
from portico.languages import validate_language


@transaction.atomic(durable=True)
def choose_account_language(account: AbstractBaseUser, language: str) -> None:
    """Keep `language` (a code from settings.LANGUAGES; checked) as the account's, on every browser."""
    validate_language(language)
    AccountLanguage.objects.update_or_create(account=account, defaults={"language": language})


def account_language(account: AbstractBaseUser) -> str:
    """The language the account chose, or "" if it never chose one."""
    return AccountLanguage.objects.filter(account=account).values_list("language", flat=True).first() or ""
