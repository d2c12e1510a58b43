"""Who may have a parent or guardian invited, at which level, and when that access ends (issue 21),
decided over facts alone (no database, no clock), like access.rules for patients.

Ages are whole years on the practice's date (rules.age_on): born on 29 February, one turns a year
older on 1 March in other years. The practice's two ages (Practice.proxy_limited_from_age, 12, and
proxy_ends_at_age, 18) are passed in, never assumed."""

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext as _

from access import errors
from access.rules import MAX_INVITATIONS_PER_DAY, age_on

# The relationships a parent or guardian of a minor may have (the rest are a caregiver's).
GUARDIAN_RELATIONSHIPS = ("mother", "father", "parent", "guardian", "relative", "other")
FULL, LIMITED = "full", "limited"  # access.Proxy.Level, by value (this module reads no models)
# The notice before a guardian's access ends (Proxy.ending_notice_at).
ENDING_NOTICE_DAYS = 30


def add_date_of_birth() -> str:
    return _("Add the patient's date of birth (in Demographics)")


def adult(ends_at_age: int) -> str:
    return _("Patients aged %(age)d or over manage their own access: parents and guardians can no longer be "
             "invited") % {"age": ends_at_age}


def not_a_teen(limited_from_age: int) -> str:
    return _("The patient's agreement to full access is recorded from age %(age)d") % {"age": limited_from_age}


def add_guardian_email() -> str:
    return _("Enter the parent's or guardian's email address")


def add_guardian_mobile() -> str:
    return _("Enter the parent's or guardian's mobile phone number")


@dataclass(frozen=True)
class GuardianFacts:
    """What the rules need to know about one child and one parent or guardian, as of now."""

    age: int | None  # the child's, in whole years on the practice's today; None: no date of birth on file
    ends_at_age: int
    has_email: bool
    has_mobile: bool
    pending: bool = False  # this address already has a pending link for this child
    active: bool = False  # this address already acts for this child
    sent_in_last_day: int = 0  # links sent (and reminders) to this address for this child in 24 hours


def missing(facts: GuardianFacts) -> list[str]:
    """Why a parent or guardian cannot be invited for this child, in words staff can act on. The
    child's date of birth is needed (the guardian's identity check asks for it, and it says when the
    access ends); so are the guardian's email (the link) and mobile number (the other half of the check)."""
    needed = []
    if facts.age is None:
        needed.append(add_date_of_birth())
    elif facts.age >= facts.ends_at_age:
        needed.append(adult(facts.ends_at_age))
    if not facts.has_email:
        needed.append(add_guardian_email())
    if not facts.has_mobile:
        needed.append(add_guardian_mobile())
    return needed


def refusal(facts: GuardianFacts) -> errors.InvitationError | None:
    """Why this parent or guardian cannot be sent a link now (the error the action raises), or None."""
    if needed := missing(facts):
        return errors.GuardianNotEligible(needed)
    if facts.active:
        return errors.GuardianAlreadyActive()
    if facts.pending:
        return errors.GuardianAlreadyInvited()
    return email_refusal(facts.sent_in_last_day)


def email_refusal(sent_in_last_day: int) -> errors.InvitationError | None:
    """The daily cap of patients' invitations, per child and address (reminders count)."""
    if sent_in_last_day >= MAX_INVITATIONS_PER_DAY:
        return errors.TooManyGuardianInvitations(MAX_INVITATIONS_PER_DAY)
    return None


def default_level(age: int, *, limited_from_age: int, teen_agreed: bool) -> str:
    """Full under the practice's limited-from age; from it, limited unless staff recorded the teen's
    agreement to full access."""
    return FULL if age < limited_from_age or teen_agreed else LIMITED


def turns(born: datetime.date, age: int) -> datetime.date:
    """The date someone born on `born` becomes `age` years old: 1 March for a 29 February birth in a
    year without one (the day rules.age_on counts them a year older)."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return datetime.date(born.year + age, 3, 1)


def age_of(born: datetime.date | None, today: datetime.date) -> int | None:
    return age_on(today, born) if born else None
