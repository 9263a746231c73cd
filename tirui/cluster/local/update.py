"""A new archive into a running local TorchServe without dropping a request.

TorchServe keeps several versions of one model (docs/torchserve.md): the new archive is registered as
another version beside the serving one (``synchronous=true``: the call returns once its workers
are up), checked for a READY worker, made the default (``set-default``: requests to
``/predictions/<model>`` go to it from then on), and only then is the old version unregistered.
Unregistering stops the old version's workers, and a worker stopped mid-request fails that
request, so the old version drains first: its queue must be empty
(``jobQueueStatus.pendingRequests``) and then ``drain_s`` more seconds pass for the requests its
workers still run. Any failure before the switch leaves the old version serving and unregisters
the new one: nothing is lost or half-done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from tirui.core.errors import RuntimeFailure
from tirui.torchserve.settings import ModelSettings


@dataclass(frozen=True)
class Swap:
    """Where and how: the management API of one TorchServe and the model to swap."""

    management: str
    """``http://127.0.0.1:PORT``"""
    token: str
    model: str
    settings: ModelSettings
    """What the new version is registered with."""
    timeout: float = 300.0
    drain_s: float = 2.0
    """How long the old version's workers get to finish what they run after the switch."""
    deployment: str = ""
    """The deployment's name, for messages (the model's when empty)."""


def _call(client: httpx.Client, method: str, url: str, swap: Swap, **kw: object) -> httpx.Response:
    try:
        return client.request(
            method,
            url,
            headers={"Authorization": f"Bearer {swap.token}"},
            timeout=swap.timeout,
            **kw,  # type: ignore[arg-type]
        )
    except httpx.HTTPError as exc:
        who = f"{swap.deployment} (model {swap.model})" if swap.deployment else swap.model
        path = url.removeprefix(swap.management) or "/"
        if isinstance(exc, httpx.TimeoutException):
            cause = f"no answer within {swap.timeout:.0f}s"
        else:
            cause = f"{type(exc).__name__}: {str(exc).strip() or 'no detail'}"
        where = f"TorchServe's management API ({method} {path})"
        raise RuntimeFailure(f"{who}: {where} failed: {cause}") from None


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json().get("message", r.text)).strip()[:300]
    except ValueError:
        return r.text.strip()[:300]


def serving_version(client: httpx.Client, swap: Swap) -> str:
    """The default version's ``modelVersion``."""
    r = _call(client, "GET", f"{swap.management}/models/{swap.model}", swap)
    if r.status_code != 200:
        raise RuntimeFailure(
            f"{swap.model}: cannot describe the serving model ({r.status_code}: {_message(r)})"
        )
    return str(r.json()[0].get("modelVersion", ""))


def _drain(client: httpx.Client, swap: Swap, url: str) -> None:
    """Until the old version's queue is empty (at most ``timeout``), then ``drain_s`` more."""
    deadline = time.monotonic() + swap.timeout
    while time.monotonic() < deadline:
        r = _call(client, "GET", url, swap)
        try:
            pending = sum(int(m.get("jobQueueStatus", {}).get("pendingRequests", 0)) for m in r.json())
        except (ValueError, AttributeError, TypeError):
            pending = 0
        if pending == 0:
            break
        time.sleep(0.2)
    time.sleep(swap.drain_s)


def register(client: httpx.Client, swap: Swap, archive: str, new_version: str) -> None:
    """Register ``archive`` (a file name in the model store) as another version of the model,
    beside the serving one, and check it has a READY worker; nothing changes for the traffic.
    On failure the new version is unregistered again."""
    old = serving_version(client, swap)
    if new_version == old:
        raise RuntimeFailure(
            f"the new archive has the same model version ({old}) as the one serving: give it another "
            "(torch-model-archiver --version …) so both can run side by side"
        )
    base = f"{swap.management}/models"
    params = {
        "url": archive,
        "model_name": swap.model,
        "initial_workers": str(max(1, swap.settings.workers)),
        **{key: str(value) for key, value in swap.settings.register_params().items()},
        "synchronous": "true",
    }
    r = _call(client, "POST", base, swap, params=params)
    if r.status_code == 405 or "model api" in _message(r).lower():
        raise RuntimeFailure(
            f"{swap.model}: this TorchServe was started without its model API, so it cannot load a "
            "second version: restart the deployment once (r), then try again"
        )
    if r.status_code >= 300:
        raise RuntimeFailure(
            f"{swap.model}: TorchServe refused the new archive ({r.status_code}: {_message(r)})"
        )
    try:
        _await_ready(client, swap, new_version)
    except BaseException:
        retire(client, swap, new_version, drain=False)
        raise


def is_ready(client: httpx.Client, swap: Swap, version: str) -> bool:
    """The version is registered and has a READY worker."""
    d = _call(client, "GET", f"{swap.management}/models/{swap.model}/{version}", swap)
    try:
        return d.status_code == 200 and any(
            w.get("status") == "READY" for m in d.json() for w in m.get("workers", [])
        )
    except (ValueError, AttributeError, TypeError):
        return False


def _await_ready(client: httpx.Client, swap: Swap, version: str) -> None:
    """Until the version has a READY worker. A synchronous register usually returns with one, but
    not always (seen: the worker still starting a moment after the 200), so poll; ``timeout``
    only guards against a worker that never comes up."""
    deadline = time.monotonic() + swap.timeout
    while not is_ready(client, swap, version):
        if time.monotonic() > deadline:
            raise RuntimeFailure(
                f"{swap.model} {version}: no worker became READY (the old version still serves)"
            )
        time.sleep(0.2)


def make_default(client: httpx.Client, swap: Swap, version: str) -> None:
    """Requests to ``/predictions/<model>`` go to ``version`` from now on."""
    s = _call(client, "PUT", f"{swap.management}/models/{swap.model}/{version}/set-default", swap)
    if s.status_code >= 300:
        raise RuntimeFailure(f"{swap.model}: set-default failed ({s.status_code}: {_message(s)})")


def retire(client: httpx.Client, swap: Swap, version: str, *, drain: bool = True) -> None:
    """Unregister ``version`` (after its queue drains, unless ``drain`` is off)."""
    url = f"{swap.management}/models/{swap.model}/{version}"
    if drain:
        _drain(client, swap, url)
    u = _call(client, "DELETE", url, swap, params={"synchronous": "true"})
    if u.status_code >= 300 and u.status_code != 404:
        raise RuntimeFailure(f"{swap.model}: unregistering {version} failed ({u.status_code}: {_message(u)})")


def swap_in(client: httpx.Client, swap: Swap, archive: str, new_version: str) -> str:
    """Register ``archive`` as ``new_version``, make it the default, unregister the version that
    served before; returns that old version."""
    old = serving_version(client, swap)
    register(client, swap, archive, new_version)
    try:
        make_default(client, swap, new_version)
    except BaseException:
        retire(client, swap, new_version, drain=False)
        raise
    try:
        retire(client, swap, old)
    except RuntimeFailure as exc:  # the new one serves; the old one only costs memory until a restart
        raise RuntimeFailure(f"{swap.model} {new_version} serves now, but {exc}") from None
    return old
