"""CPU cost of the Metrics pipeline for one deployment with 100 replicas.

100 endpoints serving the payload recorded from a real TorchServe 0.12.0, each with an access log
that grows by 20 inference lines a second (2,000 lines/s in all), collected at 1 Hz for 30 s with
the four charts rebuilt each second, as the Metrics screen does. The endpoints stand for pods
behind the Kubernetes API server, so the collector's budget applies (at most 10 scrapes a round,
each pod every 10 s; every log line is still read). Prints resident memory at the start and the
end (flat is the target), then ``ratio=<process CPU seconds / wall seconds>`` last; target <= 0.15.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_overhead import measure

if __name__ == "__main__":
    measure(100, 20, api_bound=True)
