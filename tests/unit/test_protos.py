"""tirui's own .proto files against TorchServe's, as compiled descriptors.

TorchServe's definitions are taken from the installed torchserve (``ts/frontend/model-server.jar``),
tirui's from the installed ``tirui.torchserve.protos`` with nothing but protoc's well-known types on
the import path (what grpcurl sees). Both are compiled here by grpcio-tools' protoc, and every
service, method and message tirui declares must match TorchServe's: the same full names, streaming,
input and output types, and for each field the same name, number, type, label and presence.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

FILES = ("inference.proto", "management.proto")
FieldProto = descriptor_pb2.FieldDescriptorProto


class Compiled:
    """The messages and services of one compiled set, by full name."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        for f in files.file:
            prefix = f".{f.package}" if f.package else ""
            for service in f.service:
                self.services[f"{prefix}.{service.name}"] = service
            for message in f.message_type:
                self._add(prefix, message)

    def _add(self, prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = f"{prefix}.{message.name}"
        self.messages[name] = message
        for nested in message.nested_type:  # map entries
            self._add(name, nested)


def compile_set(out: Path, includes: list[Path], files: tuple[str, ...]) -> Compiled:
    well_known = Path(str(resources.files("grpc_tools") / "_proto"))
    args = ["protoc", *(f"-I{p}" for p in [*includes, well_known])]
    args += ["--include_imports", f"--descriptor_set_out={out}", *files]
    assert protoc.main(args) == 0, f"protoc failed: {args}"
    return Compiled(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()))


def _field(f: FieldProto) -> tuple[object, ...]:
    return (f.name, f.type, f.type_name, f.label, f.proto3_optional, f.HasField("oneof_index"))


def _reachable(ours: Compiled) -> Iterator[str]:
    """Every message tirui's services use, through their fields (map entries and google.rpc.Status)."""
    seen: set[str] = set()
    todo = [t for s in ours.services.values() for m in s.method for t in (m.input_type, m.output_type)]
    while todo:
        name = todo.pop()
        if name in seen or name not in ours.messages:
            continue
        seen.add(name)
        yield name
        todo += [f.type_name for f in ours.messages[name].field if f.type_name]


def differences(ours: Compiled, theirs: Compiled) -> list[str]:
    found: list[str] = []
    for name, service in ours.services.items():
        other = theirs.services.get(name)
        if other is None:
            found.append(f"service {name}: not TorchServe's")
            continue
        methods = {m.name: m for m in other.method}
        for m in service.method:
            t = methods.get(m.name)
            if t is None:
                found.append(f"{name}/{m.name}: no such method")
                continue
            mine = (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
            if mine != (t.input_type, t.output_type, t.client_streaming, t.server_streaming):
                found.append(f"{name}/{m.name}: {mine} != TorchServe's")
    for name in _reachable(ours):
        other_message = theirs.messages.get(name)
        if other_message is None:
            found.append(f"message {name}: not TorchServe's")
            continue
        if ours.messages[name].options.map_entry != other_message.options.map_entry:
            found.append(f"message {name}: map entry differs")
        fields = {f.number: f for f in other_message.field}
        for f in ours.messages[name].field:
            t = fields.get(f.number)
            if t is None or _field(f) != _field(t):
                found.append(f"{name} field {f.number}: {_field(f)} != {_field(t) if t else None}")
    return found


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Compiled, Compiled]:
    root = tmp_path_factory.mktemp("protos")
    jar = Path(str(resources.files("ts") / "frontend" / "model-server.jar"))
    theirs_dir = root / "torchserve"
    with zipfile.ZipFile(jar) as z:
        wanted = [n for n in z.namelist() if n.startswith(("proto/", "google/")) and n.endswith(".proto")]
        z.extractall(theirs_dir, wanted)
    theirs = compile_set(root / "theirs.pb", [theirs_dir / "proto", theirs_dir], FILES)
    mine_dir = Path(str(resources.files("tirui.torchserve") / "protos"))
    ours = compile_set(root / "ours.pb", [mine_dir], FILES)
    return ours, theirs


def test_tirui_protos_match_torchserves_descriptors(compiled: tuple[Compiled, Compiled]) -> None:
    ours, theirs = compiled
    assert set(ours.services) == {
        ".org.pytorch.serve.grpc.inference.InferenceAPIsService",
        ".org.pytorch.serve.grpc.management.ManagementAPIsService",
    }
    used = set(_reachable(ours))
    assert ".google.rpc.Status" in used
    assert ".org.pytorch.serve.grpc.inference.PredictionsRequest.InputEntry" in used
    assert differences(ours, theirs) == []
    # Everything tirui calls is declared (the client's stubs come from these files).
    methods = {m.name for s in ours.services.values() for m in s.method}
    assert {"Ping", "Predictions", "StreamPredictions", "StreamPredictions2", "DescribeModel"} <= methods
    assert {"ListModels", "RegisterModel", "ScaleWorker", "SetDefault", "UnregisterModel"} <= methods


def test_the_comparison_sees_a_changed_number_type_or_stream(compiled: tuple[Compiled, Compiled]) -> None:
    ours, theirs = compiled
    scale = ours.messages[".org.pytorch.serve.grpc.management.ScaleWorkerRequest"]
    field = next(f for f in scale.field if f.name == "min_worker")
    field.number = 3
    status = ours.messages[".google.rpc.Status"]
    code = next(f for f in status.field if f.name == "code")
    code.type = FieldProto.TYPE_INT64
    stream = next(m for m in ours.services[".org.pytorch.serve.grpc.inference.InferenceAPIsService"].method)
    stream.server_streaming = not stream.server_streaming
    try:
        found = differences(ours, theirs)
    finally:
        field.number, code.type = 4, FieldProto.TYPE_INT32
        stream.server_streaming = not stream.server_streaming
    assert len(found) == 3, found
