"""Every change to portal access, one module per job. Each public function is one state change: one
transaction with its history events and its outbox mail. Callers (pages, the API, commands, tasks)
scope, parse, call one of them and show the result, importing it from the module it lives in:

- sending: invite one patient or many, revoke, resend (the send engine)
- jobs: bulk invitation jobs, run by the task worker in chunks
- automatic: invitations after a booking, reminders, re-invites
- acceptance: the patient's link, identity check, connection, disconnection
- proxy_acceptance: a proxy's link (a parent's, guardian's or caregiver's), identity check, accepting,
  and choosing whom to act for
- caregivers: a connected adult patient invites a caregiver (a one-time code) and revokes grants on them
- printing: printed invitations (a QR code of the link and an activation code), and the typed code
- email_confirmation: an address confirmed with an emailed code before a portal account exists
- passwords: patient account password reset and change
- practice_settings: a practice's invitation settings
- expiry: lapsed invitations closed and recorded
- renewal: a patient renewing an expired invitation from its link
- requests: requests for portal access without an invitation, and staff's answer
- worklist: the morning bell about visits due for portal access (the adoption report's worklist)
- texting: the consent ledger of mobile numbers, the patient's STOP / START / HELP replies, and the
  invitation and reminder texts (Invite by, quiet hours, caps)
- outcomes: what mail delivery and the SMS provider report about invitation emails and texts
- notifications: staff bell notifications and the daily digest
- audit: staff signing in and out, and probes of another practice's ids
- visit_access: the Reports' per-visit summary of the access measure, kept by the others (not for callers
  but clinic.services and the backfill)
- steps: the lock order and the small steps the others are made of (not for callers)
"""
