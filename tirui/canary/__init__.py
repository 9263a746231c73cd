"""Canary releases: a new archive beside the serving one with a share of the traffic, judged on
each side's own access-log latencies and errors, promoted step by step or rolled back.

Runtime-neutral: the runtimes (local TorchServe versions, Kubernetes Deployments behind an
ingress-nginx canary Ingress) implement :class:`~tirui.canary.analysis.CanaryControl`; this
package decides.
"""
