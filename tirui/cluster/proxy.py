"""The auth proxy in front of TorchServe: an nginx config rendered by tirui.

TorchServe's own token auth uses per-process keys that expire (DESIGN.md §4), which replicas
cannot share; so in a pod TorchServe listens on loopback with its auth off, and nginx checks
``Authorization: Bearer <token>`` against the accepted tokens (several at once, for rotation)
before passing REST and gRPC (HTTP/2) on. ``/ping`` stays open for probes. A refused REST request
gets 401 with a TorchServe-style JSON body; a refused gRPC call gets HTTP 401, which gRPC clients
report as UNAUTHENTICATED.
"""

from __future__ import annotations

from dataclasses import dataclass

REFUSED = '{"code": 401, "type": "Unauthorized", "message": "missing or wrong bearer token"}'


@dataclass(frozen=True)
class ProxyPorts:
    """Where nginx listens (public) and where TorchServe listens (loopback)."""

    inference: int = 8080
    management: int = 8081
    grpc_inference: int = 7070
    grpc_management: int = 7071
    upstream_inference: int = 8090
    upstream_management: int = 8091
    upstream_grpc_inference: int = 7090
    upstream_grpc_management: int = 7091


def _check_token(token: str) -> str:
    if not token or any(c.isspace() or c in "\"'\\;{}$" for c in token):
        raise ValueError("a token must be non-empty without spaces, quotes, backslashes, ';', braces or '$'")
    return token


def render_nginx(
    tokens: list[str],
    *,
    auth: bool = True,
    ports: ProxyPorts = ProxyPorts(),
    listen: str = "0.0.0.0",
    runtime_dir: str = "/tmp/nginx",
    user: str | None = None,
) -> str:
    """A complete ``nginx.conf``; ``runtime_dir`` holds the pid file and temp paths."""
    accepted = "\n".join(f'        "Bearer {_check_token(t)}" 1;' for t in tokens)
    default = "0" if auth else "1"

    def rest(port: int, upstream: int, open_ping: bool) -> str:
        ping = (
            f"""
        location = /ping {{
            proxy_pass http://127.0.0.1:{upstream};
        }}"""
            if open_ping
            else ""
        )
        return f"""
    server {{
        listen {listen}:{port};{ping}
        location / {{
            if ($tirui_token_ok = 0) {{
                add_header Content-Type application/json always;
                add_header WWW-Authenticate Bearer always;
                return 401 '{REFUSED}';
            }}
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }}
    }}"""

    def grpc(port: int, upstream: int) -> str:
        return f"""
    server {{
        listen {listen}:{port} http2;
        location / {{
            if ($tirui_token_ok = 0) {{
                return 401;
            }}
            grpc_set_header Authorization "";
            grpc_read_timeout 300s;
            grpc_pass grpc://127.0.0.1:{upstream};
        }}
    }}"""

    user_line = f"user {user};\n" if user else ""
    p = ports
    return f"""# Rendered by tirui: bearer-token auth in front of TorchServe (REST and gRPC).
{user_line}worker_processes 1;
pid {runtime_dir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_max_body_size 64m;
    client_body_temp_path {runtime_dir}/client_body;
    proxy_temp_path {runtime_dir}/proxy;
    fastcgi_temp_path {runtime_dir}/fastcgi;
    uwsgi_temp_path {runtime_dir}/uwsgi;
    scgi_temp_path {runtime_dir}/scgi;
    map $http_authorization $tirui_token_ok {{
        default {default};
{accepted}
    }}
{rest(p.inference, p.upstream_inference, True)}
{rest(p.management, p.upstream_management, False)}
{grpc(p.grpc_inference, p.upstream_grpc_inference)}
{grpc(p.grpc_management, p.upstream_grpc_management)}
}}
"""
