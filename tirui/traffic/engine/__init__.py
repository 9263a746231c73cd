"""The load engine: worker processes beside the UI (worker.py), each with its own event loop and a
lean HTTP/1.1 client (http1.py) or a gRPC channel, and the parent side that starts them and merges
their per-interval reports (pool.py); what a run is and what it gave (load.py: LoadSpec,
LoadResult) and the schema of the workers' reports (schema.py)."""
