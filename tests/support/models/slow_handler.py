"""The demo model's handler made deliberately slow (100 ms a batch): the canary that the analysis
must roll back on its p99. Archived with the demo handler (``handler.py``) as an extra file."""

import time

from handler import TinyHandler


class SlowTinyHandler(TinyHandler):
    def preprocess(self, data):
        time.sleep(0.1)
        return super().preprocess(data)
