"""``tirui endpoint NAME``: where a deployment answers, the header, and sample client lines."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from tirui.cli.serve import ServeCliError, resolve

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers


def add_parsers(sub: Subparsers) -> None:
    e = sub.add_parser(
        "endpoint",
        help="a deployment's REST and gRPC endpoints, its header, and ready-to-run curl, Python and "
        "grpcurl lines",
    )
    e.add_argument("target", help="a deployment name, or http(s)://host:port")
    e.add_argument("--model", default="", help="model name (default: the deployment's)")
    e.add_argument("--reveal", action="store_true", help="put the real token into the lines")
    e.add_argument("--token", dest="print_token", action="store_true", help="print only the token")
    e.add_argument("--management", action="store_true", help="with --token: the management API's")
    e.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    for name, default in (("token_name", None), ("management_url", ""), ("grpc_target", ""), ("ca_file", "")):
        e.set_defaults(**{name: default})


def cmd_endpoint(args: argparse.Namespace) -> int:
    from tirui.traffic.samples import endpoint_samples

    target = resolve(args)
    model, protocol = _deployed(args)
    model = args.model or model
    if not model:
        raise ServeCliError(f"{args.target}: name the model with --model")
    if args.print_token:
        token = target.http.management_token if args.management else target.http.inference_token
        if not token:
            raise ServeCliError(f"{args.target}: no token (the deployment takes none, or none is stored)")
        print(token)
        return 0
    samples = endpoint_samples(target, model, reveal=args.reveal, protocol=protocol)
    if args.json:
        print(json.dumps(samples.to_json(), indent=2))
    else:
        print("\n".join(samples.lines()))
    return 0


def _deployed(args: argparse.Namespace) -> tuple[str, str]:
    """The model and protocol of the deployment named ``args.target`` (defaults for a URL)."""
    if "://" in args.target:
        return "", "torchserve"
    from tirui.cli.deploy import open_runtime
    from tirui.config import resolve_profile

    try:
        status = open_runtime(resolve_profile(args.profile)).get(args.target)
    except Exception as exc:  # the runtime says why in one line
        raise ServeCliError(f"{args.target}: {exc}") from None
    return str(status.model), str(status.protocol)


COMMANDS = {"endpoint": cmd_endpoint}
