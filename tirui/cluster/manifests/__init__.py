"""The Kubernetes objects of a deployment, rendered as plain dicts: pure functions of a
:class:`~tirui.cluster.spec.DeploymentSpec` and a namespace, no client and no I/O.

``build`` assembles a deployment's objects (``build.py``); ``pod`` the pod template (TorchServe
and the fetch init container, probes, the model-cache volume), ``proxy`` the nginx auth proxy in
front of it, ``canary`` a canary's objects, ``autoscale`` the HorizontalPodAutoscaler metric and
the prometheus-adapter rules, ``rbac`` the Role tirui needs, ``objects`` the shared names and
labels. ``docs/kubernetes.md`` describes what they render and why.
"""
