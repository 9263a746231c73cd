"""Text inside Textual markup: what came from a user, a file, a server or the cluster.

Textual's markup parser is not Rich's: ``rich.markup.escape`` and even ``textual.markup.escape``
leave a trailing ``[/`` (a folder named ``[`` in ``eos://bucket/[/``), which Textual's parser
rejects. Escaping every ``[`` is always read back as the text itself.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """``text`` as literal content of a Textual markup string."""
    return text.replace("[", "\\[")
