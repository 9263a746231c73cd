"""The Metrics screen: live charts of a deployment, long windows, the canary side by side."""
