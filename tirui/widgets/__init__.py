"""Reusable Textual widgets: the status header, the key bar, charts (plotext), tables of
plain text, and the helpers that show text from users and servers as text, never markup."""
