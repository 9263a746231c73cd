"""Small pure helpers with no I/O and no Textual: the loaded window of a bucket listing
(filter, sort, selection, paging) and durations as people type them (``15m``, ``7d``)."""
