"""Small pure pieces with no I/O, no Textual and no other tirui import: the wall clock the
screens draw against, durations as people type them (``15m``, ``7d``) and the runtime error
family (``errors.py``) every layer above raises or catches."""
