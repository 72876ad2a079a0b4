"""gunicorn's configuration for Relay: `gunicorn -c relayweb/gunicorn_conf.py relayweb.wsgi`.

`make run` (scripts/serve.py) and the systemd unit in docs/deployment.md both use it. Threaded
workers: most requests wait on the database or the disk, so a few processes with several threads
each serve more than one thread per process would, in less memory.
"""

import os

from relayweb.env import env_int, settings_or_exit

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = env_int("RELAY_WEB_WORKERS", 2, minimum=1)
threads = env_int("RELAY_WEB_THREADS", 8, minimum=1)
# A worker that stops answering the master this long is replaced; slow uploads are fine (threads).
timeout = env_int("RELAY_WEB_TIMEOUT", 120, minimum=1)
# On SIGTERM requests in flight get this long, so the whole stack stops within 10 seconds.
graceful_timeout = 5
keepalive = 5
# Uploads stream from the socket to disk in each thread; nothing else limits their size here.
limit_request_line = 8190
wsgi_app = "relayweb.wsgi:application"
proc_name = "relay-web"
# gunicorn 24+ opens a control socket at ~/.gunicorn/gunicorn.ctl, shared by every gunicorn the user
# runs; Relay does not use it.
control_socket_disable = True


def on_starting(server) -> None:
    """A bad environment stops the master with its reason, not a traceback from every worker."""
    settings_or_exit()


def post_worker_init(worker) -> None:
    """Everything imported so far lives as long as the worker: keep the collector off it."""
    import gc

    gc.collect()
    gc.freeze()
