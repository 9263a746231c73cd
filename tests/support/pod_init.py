"""The first process of a container run by :mod:`tests.support.kubelet`: lays out the
container's filesystem view, drops to the container's user and ``exec``s its command.

It runs as root, as PID 1 of a fresh PID namespace, in a private mount namespace (``unshare
--mount --pid --fork``) inside the pod's network namespace, and takes one argument: a JSON file
written by :class:`tests.support.containers.ContainerProcess`. Standard library only (it runs with
``python -I``). What it does, in order, and what it stands for in a container runtime:

1. a fresh ``/proc`` for the PID namespace;
2. a private ``/tmp`` (tmpfs, like a container's own writable layer), and a tmpfs over any host
   folder the container's user could not enter on the way to the tools it runs (``/root`` when
   the test venv's Python lives there); the tool paths below them are bound back in, as an image
   would have them;
3. a mount point missing on the host (``/home/model-server/...``, ``/etc/tirui``) is created in an
   overlay of its top-level folder, so nothing is written to the host's ``/home`` or ``/etc``;
4. the image's folders (its working dir, owned by the image's user);
5. each volume bound at its ``mountPath`` (``readOnly`` as a read-only bind);
6. ``readOnlyRootFilesystem``: the root, the overlays and ``/tmp`` remounted read-only (volumes
   stay writable);
7. ``chdir``, supplementary groups (``fsGroup``), gid, uid, ``no_new_privs``, then ``execvpe``.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

PR_SET_NO_NEW_PRIVS = 38


def sh(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def ensure_dir(path: str, overlays: dict[str, str], layer_root: str) -> None:
    """Create ``path``, in an overlay of its top-level folder when that is not ``/tmp``."""
    if os.path.isdir(path):
        return
    top = "/" + path.strip("/").split("/")[0]
    if top != "/tmp" and top not in overlays:
        if not os.path.isdir(top):
            raise SystemExit(f"pod_init: cannot create {path}: {top} does not exist on the host")
        name = top.strip("/").replace("/", "_")
        upper, work = f"{layer_root}/{name}/up", f"{layer_root}/{name}/work"
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        sh("-t", "overlay", "overlay", "-o", f"lowerdir={top},upperdir={upper},workdir={work}", top)
        overlays[top] = upper
    os.makedirs(path, exist_ok=True)


def main(spec_file: str) -> None:
    with open(spec_file) as f:
        spec = json.load(f)
    sh("-t", "proc", "proc", "/proc")
    for i, hide in enumerate(spec["hide"]):  # /tmp, and host folders the container's user cannot enter
        stage = os.path.join(spec["stage"], str(i))
        os.makedirs(stage, exist_ok=True)
        sh("--bind", hide["path"], stage)
        sh("-t", "tmpfs", "-o", f"mode={hide['mode']}", "tmpfs", hide["path"])
        for keep in spec["keep"]:  # host paths below it that the container still needs
            if keep.startswith(hide["path"] + "/"):
                os.makedirs(keep, exist_ok=True)
                sh("--bind", os.path.join(stage, os.path.relpath(keep, hide["path"])), keep)
    overlays: dict[str, str] = {}
    for d in spec["dirs"]:
        ensure_dir(d["path"], overlays, spec["layers"])
        os.chown(d["path"], d["uid"], d["gid"])
    for m in spec["mounts"]:
        if os.path.isdir(m["source"]):
            ensure_dir(m["target"], overlays, spec["layers"])
        else:  # a single file (subPath)
            ensure_dir(os.path.dirname(m["target"]), overlays, spec["layers"])
            if not os.path.exists(m["target"]):
                open(m["target"], "a").close()
        sh("--bind", m["source"], m["target"])
        if m["readOnly"]:
            sh("-o", "remount,bind,ro", m["target"])
    if spec["read_only_root"]:
        sh("-o", "remount,bind,ro", "/")
        for top in (*overlays, "/tmp"):
            sh("-o", "remount,ro", top)
    os.chdir(spec["workdir"])
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    if spec["no_new_privs"]:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    argv, env = spec["argv"], spec["env"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"pod_init: cannot run {argv[0]!r}: {e.strerror}", file=sys.stderr)
        raise SystemExit(127) from None


if __name__ == "__main__":
    main(sys.argv[1])
