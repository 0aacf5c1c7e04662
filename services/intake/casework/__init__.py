"""Changes to a registered case (研判 after registration) and reads of its personal data, one module
per family: ``assessment_changes`` (a supervisor's override, a dispatcher's category correction),
``notes`` (text after registration), ``merging`` (merge, unlink), ``personal_data``,
``status_projection`` (the life cycle referral reports); ``guards`` and ``regrading`` are what they
share.

Each operation is one transaction: lock the case row(s), check the state, change, write the event
to the outbox, and append the audit entry last (hub/audit.py: the audit tail lock is then held only
until commit). Free text from staff is redacted of phone and ID numbers before it is stored, audited
or sent. Only open cases (status `registered`; referral owns the life cycle, intake projects
`closed` and `withdrawn`) are changed; anything else is refused with 409 naming the state and what
is allowed. The decisions behind each family are in its module and in services/intake/README.md.
"""
