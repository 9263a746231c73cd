"""The local runtime: :class:`~tirui.cluster.local.runtime.LocalRuntime` runs each deployment as
TorchServe processes on this machine (state files under the data folder, a supervisor that
restarts what fails, versions and canaries through TorchServe's management API). The rest of
tirui reaches it through :mod:`tirui.cluster.open` and the contract in
:mod:`tirui.cluster.runtime`; it does not import :mod:`tirui.cluster.kube`.
"""
