"""Where models run. The face the rest of tirui uses:

- :mod:`~tirui.cluster.runtime`: the runtime contract (``Runtime`` and its capabilities), the
  statuses it returns and the one error family (``RuntimeFailure``);
- :mod:`~tirui.cluster.open`: ``open_runtime(profile, tokens)``, the one factory;
- :mod:`~tirui.cluster.spec`: ``DeploymentSpec``, what one deployment is, and its validation;
- the vocabulary shared by both runtimes (autoscale metrics, quantities, credentials, targets).

Behind it, three rooms that import-linter keeps apart: :mod:`~tirui.cluster.manifests` (pure
rendering of Kubernetes objects), :mod:`~tirui.cluster.kube` and :mod:`~tirui.cluster.local`
(the two runtimes, which know nothing of each other). No Textual here.
"""
