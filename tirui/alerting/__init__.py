"""Alerts that reach people: the notification channels of ``alerts.toml`` (webhook in
Alertmanager's payload shape, Slack, email over SMTP with STARTTLS), the book of what fires (a
state file, so a restart neither forgets nor re-sends) with its history, and the outbox that
delivers each transition once, retrying with back-off. The rules and their evaluation are
:mod:`tirui.metrics.alerts`. No Textual here: ``tirui alerts --watch`` and the TUI share it."""
