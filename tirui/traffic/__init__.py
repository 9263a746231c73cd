"""The request side: where requests go (targets: a URL or a deployment, with its token), one-off
requests (the Playground's engine) and load tests; shared by the TUI and the CLI."""
