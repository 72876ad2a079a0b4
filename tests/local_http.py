"""A real HTTP server on this machine that answers from a script, for the client's retries and the
webhook receivers: each step is a status, `(status, headers, body)`, or "drop" (close the
connection unanswered); the last step repeats. It records every request it received."""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes


class ScriptedServer:
    def __init__(self, *steps):
        self.steps, self.received = list(steps), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.received.append(
                    Request(self.command, self.path, dict(self.headers), self.rfile.read(length))
                )
                step = server.steps.pop(0) if len(server.steps) > 1 else server.steps[0]
                if step == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status, headers, body = (step, {}, b"") if isinstance(step, int) else step
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
