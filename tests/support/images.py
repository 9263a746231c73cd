"""What the pod runner knows of the images tirui renders: each image's entrypoint, default
command, user, working dir and environment, with the tools provided by the host (there is no
image to pull here).

- ``pytorch/torchserve:*``: ``torchserve`` and ``python`` from the test venv, Java from the host;
  user ``model-server`` (uid 1000), working dir and HOME ``/home/model-server``. Its entrypoint is
  reproduced from its documented behaviour (the image's ``dockerd-entrypoint.sh``, ``set -e``): for
  the argument ``serve`` it starts TorchServe with ``/home/model-server/config.properties`` and
  token auth off, for anything else it ``eval``s the arguments; then it waits forever (``tail -f
  /dev/null``) — so arguments that end cleanly leave a container running with nothing in it.
- ``amazon/aws-cli:*``: Debian's ``awscli`` package (``/usr/bin/aws``, aws-cli 2.9: the image's
  major version; ``.ci/run`` installs it), first on the PATH; its entrypoint is ``aws``.
- ``nginx:*``: Debian's ``nginx``; its entrypoint (which only runs ``/docker-entrypoint.d``
  scripts) is reduced to running the command. Its image declares ``STOPSIGNAL SIGQUIT`` (nginx's
  graceful quit), and container runtimes stop a container with its image's stop signal: the
  runner does too (:attr:`Image.stop_signal`).
"""

from __future__ import annotations

import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = str(Path(sys.executable).parent)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
AWS_CLI_V2 = "/usr/bin/aws"

TORCHSERVE_ENTRYPOINT = """set -e
if [ "${1:-}" = "serve" ]; then
    shift
    torchserve --start --ts-config /home/model-server/config.properties --disable-token-auth
else
    eval "$@"
fi
tail -f /dev/null
"""
"""The pytorch/torchserve image's entrypoint, as its behaviour is documented (see module doc)."""


@dataclass(frozen=True)
class Image:
    entrypoint: list[str]
    cmd: list[str]
    uid: int = 0
    gid: int = 0
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    """Folders the image has, owned by its user (created in the container's overlay)."""
    stop_signal: signal.Signals = signal.SIGTERM
    """The image's ``STOPSIGNAL`` (SIGTERM when it declares none), what a kubelet sends first."""

    def argv(self, command: list[str] | None, args: list[str] | None) -> list[str]:
        """Kubernetes' rule: ``command`` replaces the entrypoint (and drops the image's cmd),
        ``args`` replaces the cmd."""
        if command:
            return [*command, *(args or [])]
        return [*self.entrypoint, *(self.cmd if args is None else args)]


def _path(*front: str) -> str:
    return ":".join([*front, SYSTEM_PATH])


def image(name: str) -> Image:
    repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    if repo.endswith("torchserve"):
        return Image(
            entrypoint=["/bin/sh", "-c", TORCHSERVE_ENTRYPOINT, "dockerd-entrypoint.sh"],
            cmd=["serve"],
            uid=1000,
            gid=1000,
            workdir="/home/model-server",
            env={
                "PATH": _path(VENV_BIN),
                "HOME": "/home/model-server",
                "TEMP": "/home/model-server/tmp",
                "PYTHONUNBUFFERED": "TRUE",
            },
            dirs=("/home/model-server", "/home/model-server/tmp", "/home/model-server/model-store"),
        )
    if repo.endswith("aws-cli"):  # Debian's awscli 2 (the image's major version), not the venv's 1
        return Image(entrypoint=[AWS_CLI_V2], cmd=[], env={"PATH": f"/usr/bin:/bin:{SYSTEM_PATH}"})
    if repo.endswith("nginx"):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return Image(
            entrypoint=[],
            cmd=[nginx, "-g", "daemon off;"],
            env={"PATH": _path()},
            stop_signal=signal.SIGQUIT,  # nginx:*-alpine and nginx:* declare STOPSIGNAL SIGQUIT
        )
    raise ValueError(f"the pod runner has no stand-in for image {name!r}")
