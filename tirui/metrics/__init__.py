"""Numbers about deployments, from TorchServe's own outputs: scrapes of its Prometheus endpoint,
its access log (per-request latencies, so p50/p99 are real quantiles), or a Prometheus server
(one instant query a round); the time series the charts draw, and the alert rules evaluated over them.
No Textual; collection runs on the event loop with async HTTP and threads for files."""
