"""The built-in demo: a tiny TorchServe model (handler and weights made at setup), archived into
the local store's ``models`` bucket, so ``make demo`` works with no cloud and no GPU."""
