"""The Playground screen: one request at a time, the history, and load tests."""
