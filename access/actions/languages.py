"""The language a patient portal account chose with the language switch (portal.language).

A reading preference, not a change to anyone's access: it writes no access-history event and no mail."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from access.models import AccountLanguage
from portico.bulk import among
from portico.languages import validate_language


@transaction.atomic(durable=True)
def choose_account_language(account: AbstractBaseUser, language: str) -> None:
    """Keep `language` (a code from settings.LANGUAGES; checked) as the account's, on every browser."""
    validate_language(language)
    AccountLanguage.objects.update_or_create(account=account, defaults={"language": language})


def account_language(account: AbstractBaseUser) -> str:
    """The language the account chose, or "" if it never chose one."""
    return AccountLanguage.objects.filter(account=account).values_list("language", flat=True).first() or ""


def accounts_languages(account_ids: Iterable[int]) -> dict[int, str]:
    """The language each of these accounts chose (those that never chose one are left out), in one query."""
    return dict(AccountLanguage.objects.filter(account_id__in=among(sorted(set(account_ids))))
                .values_list("account_id", "language"))
