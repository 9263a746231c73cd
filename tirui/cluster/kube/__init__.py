"""The Kubernetes runtime: :class:`~tirui.cluster.kube.runtime.KubeRuntime` applies what
:mod:`tirui.cluster.manifests` renders (server-side apply) and reads deployments back from the
API server (status, replicas, events, logs, watches, versions, canaries). The rest of tirui
reaches it through :mod:`tirui.cluster.open` and the contract in :mod:`tirui.cluster.runtime`;
it does not import :mod:`tirui.cluster.local`.
"""
