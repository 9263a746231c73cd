"""Regenerate tirui/torchserve/protos/*_pb2*.py from the .proto files (``make protos``).

``--check`` writes into a temp dir and exits 1 when the committed files differ (stale stubs).
The generator is grpcio-tools, pinned in the ``dev`` extra so the output is reproducible.
"""

from __future__ import annotations

import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = Path("tirui/torchserve/protos")
PROTOS = ["inference.proto", "management.proto"]


def generate(out: Path) -> list[Path]:
    from grpc_tools import protoc

    include = str(resources.files("grpc_tools") / "_proto")
    import google.rpc  # googleapis-common-protos: google/rpc/status.proto

    googleapis = str(Path(google.rpc.__path__[0]).parent.parent)
    written = []
    for proto in PROTOS:
        args = [
            "protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"-I{googleapis}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO_DIR / proto),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed for {proto}")
        stem = proto.removesuffix(".proto")
        written += [out / PROTO_DIR / f"{stem}{suffix}" for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")]
    return written


def main() -> int:
    check = "--check" in sys.argv
    if not check:
        for path in generate(ROOT):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        stale = [
            str(path.relative_to(tmp))
            for path in generate(Path(tmp))
            if not (ROOT / path.relative_to(tmp)).exists()
            or not filecmp.cmp(path, ROOT / path.relative_to(tmp), shallow=False)
        ]
    if stale:
        print("stale generated stubs (run `make protos`): " + ", ".join(stale), file=sys.stderr)
        return 1
    print("generated stubs are current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
