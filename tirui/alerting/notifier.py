"""One round of notification: book what the evaluation saw, then deliver what is due.

Whoever holds the book's lease (the first ``tirui alerts --watch`` or TUI on a data dir) books
and sends; the others only read the book (the TUI's history pane). Each delivery is saved before
the next: an event a channel took is never in the saved outbox again, so it is sent once; one it
refused waits ``backoff_s * 2 ** (attempts - 1)`` seconds (at most ``backoff_max``) and is tried again, also
after a restart.
"""

from __future__ import annotations

from pathlib import Path

from tirui.alerting.book import AlertBook, BookLease, Observation
from tirui.alerting.channels import Channel, DeliveryError, Sender, parse_channels
from tirui.alerting.events import AlertEvent
from tirui.metrics.alerts import read_rules_file
from tirui.secrets import TokenStore


def load_channels(path: Path) -> list[Channel]:
    """The channels of the rules file (none when it does not exist)."""
    return parse_channels(read_rules_file(path), str(path))


class Notifier:
    def __init__(
        self,
        folder: Path,
        rules_path: Path,
        profile: str,
        tokens: TokenStore | None,
        *,
        backoff_s: float = 5.0,
        backoff_max: float = 300.0,
    ) -> None:
        self.book = AlertBook(folder)
        self.lease = BookLease(folder)
        self.rules_path = rules_path
        self.sender = Sender(profile, tokens)
        self.backoff_s = backoff_s
        self.backoff_max = backoff_max

    def round(self, seen: Observation, now: float) -> list[str]:
        """Book ``seen`` and deliver what is due; one line per transition and delivery (blocking:
        SMTP and HTTP; run it in a thread from the TUI). Nothing without the lease."""
        if not self.lease.held():
            self.book.load()
            return []
        channels = {c.name: c for c in load_channels(self.rules_path)}
        events = self.book.record(seen, now, channels)
        lines = [f"{e.status.upper()} {e.line()}" for e in events]
        return lines + self.deliver(channels, now)

    def deliver(self, channels: dict[str, Channel], now: float) -> list[str]:
        lines = []
        for pending in list(self.book.outbox):
            if pending.next_at > now:
                continue
            channel = channels.get(pending.channel)
            what = f"{pending.event.status} {pending.event.deployment}/{pending.event.kind}"
            if channel is None:
                self.book.outbox.remove(pending)
                lines.append(f"dropped {what} for {pending.channel}: the channel is no longer in the file")
            else:
                try:
                    self.sender.send(channel, pending.event)
                except DeliveryError as exc:
                    pending.attempts += 1
                    pending.last_error = str(exc)
                    wait = min(self.backoff_max, self.backoff_s * 2 ** (pending.attempts - 1))
                    pending.next_at = now + wait
                    lines.append(f"not sent ({pending.attempts}x), again in {wait:g}s: {exc}")
                else:
                    self.book.outbox.remove(pending)
                    lines.append(f"sent {what} to {channel.name}")
            self.book.save()
        return lines

    def history(self) -> list[AlertEvent]:
        if not self.lease.held():
            self.book.load()
        return self.book.history()

    def close(self) -> None:
        self.lease.release()
