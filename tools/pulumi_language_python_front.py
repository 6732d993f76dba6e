"""The Python language host the Pulumi engine starts: the upstream host, plus the one call it predates.

``tools/build-pulumi.sh`` installs this as ``.tools/bin/pulumi-language-python`` (a two-line sh wrapper that runs
it with ``$PULUMI_PYTHON_CMD``) when the Go module proxy refuses the current host's module
(``github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3``) and the host had to be built from the last
served ``sdk/v3`` release that held it (v3.68). That host runs programs as the current one does (the SDK's
``pulumi-language-python-exec``), but current engines start Python policy packs through the host's ``RunPlugin``
with the pack's folder in ``info.program_directory``, a field the old host does not know: it would run nothing.

So this front starts the upstream host (``--host``), forwards every call to it byte for byte, and answers
``RunPlugin`` itself: an analyzer (policy pack) runs as ``python -u -m pulumi.policy <engine> <pack folder>``
(the module the Python SDK ships for that), any other plugin as ``python -u <folder> <args>``, with the
request's environment and working directory, its output streamed back and its exit code reported.

Usage (by the engine): ``pulumi-language-python [host flags] <engine address>``; prints the port it serves on.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from pulumi.runtime.proto import language_pb2

SERVICE = "pulumirpc.LanguageRuntime"
MAX_MESSAGE = 400 * 1024 * 1024  # the engine's own limit (rpcutil.maxRPCMessageSize)
OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
STREAMING = {
    method.name: method.server_streaming
    for method in language_pb2.DESCRIPTOR.services_by_name["LanguageRuntime"].methods
}


def plugin_command(request: language_pb2.RunPluginRequest, python: str) -> tuple[list[str], str]:
    """(argv, cwd) for a RunPlugin request: a policy pack through ``pulumi.policy``, else the folder itself."""
    folder = request.info.program_directory or request.program or request.pwd
    if request.kind == "analyzer":
        return [python, "-u", "-m", "pulumi.policy", *request.args, folder], request.pwd or folder
    return [python, "-u", folder, *request.args], request.pwd or folder


def run_plugin(request: language_pb2.RunPluginRequest, python: str) -> Iterator[language_pb2.RunPluginResponse]:
    """Run the plugin, streaming its stdout and stderr, then its exit code."""
    argv, cwd = plugin_command(request, python)
    env = dict(item.split("=", 1) for item in request.env if "=" in item) or dict(os.environ)
    child = subprocess.Popen(argv, cwd=cwd or None, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks: queue.Queue[tuple[str, bytes] | None] = queue.Queue()

    def pump(stream: Any, field: str) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.put((field, chunk))
        chunks.put(None)

    for stream, field in ((child.stdout, "stdout"), (child.stderr, "stderr")):
        threading.Thread(target=pump, args=(stream, field), daemon=True).start()
    open_streams = 2
    while open_streams:
        item = chunks.get()
        if item is None:
            open_streams -= 1
            continue
        yield language_pb2.RunPluginResponse(**{item[0]: item[1]})
    yield language_pb2.RunPluginResponse(exitcode=child.wait())


class Front(grpc.GenericRpcHandler):
    """Every LanguageRuntime call goes to the upstream host, except RunPlugin."""

    def __init__(self, channel: grpc.Channel, python: str) -> None:
        self.channel = channel
        self.python = python

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        service, _, name = details.method.lstrip("/").partition("/")
        if service != SERVICE or name not in STREAMING:
            return None
        if name == "RunPlugin":
            return grpc.unary_stream_rpc_method_handler(
                lambda request, _context: run_plugin(request, self.python),
                request_deserializer=language_pb2.RunPluginRequest.FromString,
                response_serializer=language_pb2.RunPluginResponse.SerializeToString,
            )
        if STREAMING[name]:
            upstream_stream = self.channel.unary_stream(details.method)

            def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
                try:
                    yield from upstream_stream(request)
                except grpc.RpcError as exc:
                    context.abort(exc.code(), exc.details() or "")

            return grpc.unary_stream_rpc_method_handler(stream)
        upstream = self.channel.unary_unary(details.method)

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return upstream(request)
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")

        return grpc.unary_unary_rpc_method_handler(unary)


def _die_with_parent() -> None:
    """In the upstream host's process: get SIGTERM when this front dies (Linux), so it never lingers."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--host":
        sys.stderr.write("usage: pulumi_language_python_front.py --host <upstream host> [host args...]\n")
        return 2
    host, host_args = Path(argv[1]), argv[2:]
    upstream = subprocess.Popen(
        [str(host), *host_args], stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent
    )
    port_line = upstream.stdout.readline().strip() if upstream.stdout else ""
    if not port_line.isdigit():
        sys.stderr.write(f"{host} did not start (printed {port_line!r}, exit {upstream.poll()})\n")
        return 1
    channel = grpc.insecure_channel(f"127.0.0.1:{port_line}", options=OPTIONS)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=OPTIONS)
    server.add_generic_rpc_handlers([Front(channel, sys.executable)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)

    def forward_output() -> None:  # what programs print through the upstream host reaches the engine
        for line in upstream.stdout or ():
            sys.stdout.write(line)
            sys.stdout.flush()

    threading.Thread(target=forward_output, daemon=True).start()

    def stop(signum: int, _frame: Any) -> None:
        upstream.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    code = upstream.wait()  # the upstream host exits when the engine goes away (its health check)
    server.stop(grace=1).wait()
    channel.close()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
