#!/usr/bin/env python3
"""Canned HTTP answers for tests/unit/test_azureml_*.cc: a real server on a free loopback
port (printed on the first line of stdout) for the Azure ML client's HTTP, retry and
credential tests. Not the emulator of the service (tests/azureml_emulator/): only the
faults and token endpoints those unit tests need. Each test uses its own <key>, so one
server serves them all; /stats/<key> says what the server saw.

  /echo                        the request back as JSON (method, headers, body)
  /fail/<key>?times=N&status=S[&retry_after=..][&retry_after_ms=..]
                               S for the first N requests, then 200
  /reset/<key>?times=N         the first N connections reset (RST), then 200
  /slow/<key>?times=N&seconds=X the first N answers late by X seconds, then 200 at once
  /<tenant>/oauth2/v2.0/token  client credentials: secret 'good-secret' or the assertion
                               'federated-assertion'; tenant 'short' gives 2 s tokens
  /imds                        managed identity (needs 'Metadata: true')
  /auth/<key>?accept=TOKEN     200 for 'Authorization: Bearer TOKEN', else 401
  /stats/<key>                 {"count": n, "times": [...], "last": {...}}
"""
import io
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {}
LOCK = threading.Lock()


def record(key, info):
    with LOCK:
        entry = STATE.setdefault(key, {"count": 0, "times": [], "requests": []})
        entry["count"] += 1
        entry["times"].append(time.monotonic())
        entry["requests"].append(info)
        return entry["count"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True
        self.wfile = io.BytesIO()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("latin-1") if length else ""
        parts = url.path.strip("/").split("/")
        info = {"method": self.command, "path": url.path, "query": query, "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()}}
        if parts[0] == "echo":
            return self.answer(200, info, [("X-Echo", "yes")])
        if parts[0] == "stats":
            with LOCK:
                entry = STATE.get(parts[1], {"count": 0, "times": [], "requests": []})
                return self.answer(200, entry)
        if parts[0] in ("fail", "reset", "slow"):
            count = record(parts[1], info)
            times = int(query.get("times", "0"))
            if count <= times:
                if parts[0] == "reset":
                    return self.reset()
                if parts[0] == "slow":
                    time.sleep(float(query.get("seconds", "1")))
                    return self.answer(200, {"count": count, "late": True})
                headers = []
                if "retry_after" in query:
                    headers.append(("Retry-After", query["retry_after"]))
                if "retry_after_ms" in query:
                    headers.append(("x-ms-retry-after-ms", query["retry_after_ms"]))
                return self.answer(int(query.get("status", "503")),
                                   {"error": {"code": "Busy", "message": "try later"}}, headers)
            return self.answer(200, {"count": count})
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self.token(parts[0], body)
        if parts[0] == "auth":
            record(parts[1], info)
            if self.headers.get("Authorization") == "Bearer " + query.get("accept", ""):
                return self.answer(200, {"ok": True})
            return self.answer(401, {"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}})
        if parts[0] == "imds":
            record("imds", info)
            if self.headers.get("Metadata") != "true":
                return self.answer(400, {"error": "invalid_request", "error_description": "no Metadata header"})
            return self.answer(200, {"access_token": "tok-imds", "expires_in": "3599",
                                     "resource": query.get("resource", "")})
        return self.answer(404, {"error": {"code": "NotFound", "message": url.path}})

    def token(self, tenant, body):
        form = dict(urllib.parse.parse_qsl(body))
        count = record("token-" + tenant, {"form": form})
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if secret != "good-secret" and assertion != "federated-assertion":
            # A careless identity service repeating the secret: the client must scrub it.
            return self.answer(401, {"error": "invalid_client",
                                     "error_description": "AADSTS7000215: Invalid client secret provided: %s\r\nTrace ID: 1"
                                     % (secret or assertion)})
        lifetime = 2 if tenant == "short" else 3599
        return self.answer(200, {"token_type": "Bearer", "expires_in": lifetime,
                                 "access_token": "tok-%s-%d" % (tenant, count)})

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose break their pipes


def watch_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=watch_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
