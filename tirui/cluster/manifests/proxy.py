"""The auth proxy in front of TorchServe: an nginx config rendered by tirui.

TorchServe's own token auth uses per-process keys that expire (docs/torchserve.md), which replicas
cannot share; so in a pod TorchServe listens on loopback with its auth off, and nginx checks
``Authorization: Bearer <token>`` against the accepted tokens (several at once, for rotation)
before passing REST and gRPC (HTTP/2) on. ``/ping`` stays open for probes. A refused REST request
gets 401 with a TorchServe-style JSON body; a refused gRPC call gets HTTP 401, which gRPC clients
report as UNAUTHENTICATED.

The proxy also serves its own Prometheus gauges on ``ports.metrics`` (``/metrics``): nginx's
``$connections_writing`` (connections with a request being answered, the scrape itself included)
and ``$connections_active``; tirui's ``inflight`` autoscale metric is the first minus the scrape.
The metrics are open to whoever reaches the pod (Prometheus scrapes them without a token; inside
the cluster they are unauthenticated, as TorchServe's own metrics port is). The same listener
answers ``GET /models/<model>`` (TorchServe's describe, read-only), so that tirui can show the
settings TorchServe really applies through the API server's pod proxy, whose requests carry the
caller's API-server credential in ``Authorization``: the describe takes the deployment's token in
``X-Tirui-Token`` (:data:`DESCRIBE_TOKEN_HEADER`) or as the usual bearer header, and refuses
anything else with 401.

For KServe clients the inference port also answers ``/v2/health/live`` and ``/v2/health/ready``
(open, as ``/ping`` is) with TorchServe's ``/ping``: 200 when healthy, 500 when not; TorchServe
0.12 itself answers 404 on those paths, even with the KServe v2 envelope.

Termination drains: the proxy's preStop hook waits for endpoints to drop the pod, then the
kubelet's SIGTERM makes nginx quit gracefully (it stops accepting and finishes what is in flight);
TorchServe's preStop waits until nginx is gone, so no request in flight loses its upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from tirui.metrics.scrape import PROXY_INFLIGHT

DESCRIBE_TOKEN_HEADER = "X-Tirui-Token"
"""Where the describe route of the metrics listener takes the deployment's token."""
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
    metrics: int = 9145


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
    max_body_bytes: int = 64 * 2**20,
    timeout_s: int = 300,
) -> str:
    """A complete ``nginx.conf``; ``runtime_dir`` holds the pid file and temp paths. Request
    bodies up to ``max_body_bytes`` pass (REST and gRPC); an upstream may take ``timeout_s``."""
    accepted = "\n".join(f'        "Bearer {_check_token(t)}" 1;' for t in tokens)
    accepted_header = "\n".join(f'        "{_check_token(t)}" 1;' for t in tokens)
    default = "0" if auth else "1"

    def rest(port: int, upstream: int, open_ping: bool) -> str:
        ping = (
            f"""
        location = /ping {{
            proxy_pass http://127.0.0.1:{upstream};
        }}
        location = /v2/health/live {{
            proxy_pass http://127.0.0.1:{upstream}/ping;
        }}
        location = /v2/health/ready {{
            proxy_pass http://127.0.0.1:{upstream}/ping;
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
            proxy_read_timeout {timeout_s}s;
            proxy_send_timeout {timeout_s}s;
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
            grpc_read_timeout {timeout_s}s;
            grpc_send_timeout {timeout_s}s;
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
    client_max_body_size {max_body_bytes};
    client_body_temp_path {runtime_dir}/client_body;
    proxy_temp_path {runtime_dir}/proxy;
    fastcgi_temp_path {runtime_dir}/fastcgi;
    uwsgi_temp_path {runtime_dir}/uwsgi;
    scgi_temp_path {runtime_dir}/scgi;
    map $http_authorization $tirui_token_ok {{
        default {default};
{accepted}
    }}
    map $http_x_tirui_token $tirui_header_ok {{
        default {default};
{accepted_header}
    }}
    map "$tirui_token_ok$tirui_header_ok" $tirui_describe_ok {{
        default 1;
        "00" 0;
    }}
{rest(p.inference, p.upstream_inference, True)}
{rest(p.management, p.upstream_management, False)}
{grpc(p.grpc_inference, p.upstream_grpc_inference)}
{grpc(p.grpc_management, p.upstream_grpc_management)}
    server {{
        listen {listen}:{p.metrics};
        location = /metrics {{
            default_type "text/plain; version=0.0.4";
            return 200 "{PROXY_METRICS}";
        }}
        location ~ "^/models/[A-Za-z0-9][A-Za-z0-9_.-]*$" {{
            limit_except GET {{
                deny all;
            }}
            if ($tirui_describe_ok = 0) {{
                add_header Content-Type application/json always;
                return 401 '{REFUSED}';
            }}
            proxy_pass http://127.0.0.1:{p.upstream_management};
            proxy_set_header Authorization "";
            proxy_set_header X-Tirui-Token "";
            proxy_read_timeout 5s;
        }}
    }}
}}
"""


PROXY_METRICS = (
    f"# HELP {PROXY_INFLIGHT} Connections being answered (this scrape included).\\n"
    f"# TYPE {PROXY_INFLIGHT} gauge\\n"
    f"{PROXY_INFLIGHT} $connections_writing\\n"
    "# HELP tirui_proxy_connections_active Open client connections, idle keep-alive ones included.\\n"
    "# TYPE tirui_proxy_connections_active gauge\\n"
    "tirui_proxy_connections_active $connections_active\\n"
)
"""The metrics body (nginx ``return`` text: ``\\n`` is nginx's escape for a newline)."""


def proxy_command(conf: str, *, prefix: str = "") -> list[str]:
    """The proxy container's process: nginx under a shell that turns the stop signal into a
    graceful quit (``nginx -s quit``: stop accepting, finish what is in flight) and ends with
    nginx. The nginx images declare ``STOPSIGNAL SIGQUIT``, which a container runtime sends
    first, so QUIT is trapped beside TERM and INT (an untrapped QUIT would end the shell, leaving
    nginx running until SIGKILL at the end of the grace period). nginx itself treats SIGTERM as
    a fast shutdown that drops requests in flight; and a preStop hook
    that asked nginx to quit would be killed with it (it runs inside the container, whose PID 1
    would be nginx), which the kubelet reports as a failed hook on every pod stop."""
    where = f"-c {conf}" + (f" -p {prefix}" if prefix else "")
    return [
        "sh",
        "-c",
        f"nginx {where} -g 'daemon off;' &\n"
        "n=$!\n"
        f"trap 'nginx {where} -s quit' QUIT TERM INT\n"
        "code=0\n"
        'while kill -0 "$n" 2>/dev/null; do wait "$n"; code=$?; done\n'
        'exit "$code"\n',
    ]


def proxy_prestop(*, delay_s: int) -> list[str]:
    """The proxy's preStop hook: wait ``delay_s`` for endpoints to drop the pod (new requests stop
    arriving); the kubelet's SIGTERM that follows makes nginx drain (:func:`proxy_command`)."""
    return ["sh", "-c", f"sleep {delay_s}"]


def upstream_prestop(runtime_dir: str) -> list[str]:
    """TorchServe's preStop hook: keep serving until the proxy in front of it has drained (nginx
    removes its pid file, on the volume both containers share, when it has ended)."""
    return ["sh", "-c", f"while [ -e {runtime_dir}/nginx.pid ]; do sleep 1; done"]
