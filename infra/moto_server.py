"""moto_server with DynamoDB requests serialised.

moto's TransactWriteItems deep-copies whole tables while other threads of the threaded server
write to them ("dictionary changed size during iteration" -> HTTP 500). Real DynamoDB has no such
problem, so the fix belongs in the stand-in: one lock around DynamoDB requests. SQS long polls and
Secrets Manager calls still run concurrently.

Usage: python3 infra/moto_server.py -H 127.0.0.1 -p 5320
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

_dynamodb_lock = threading.Lock()


class SerialiseDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, everything else untouched."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with _dynamodb_lock:
            # Materialise the body inside the lock: moto builds it eagerly, but be sure.
            return list(self.app(environ, start_response))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SerialiseDynamoDB(app), threaded=True)


if __name__ == "__main__":
    main()
