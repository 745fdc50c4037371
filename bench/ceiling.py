"""The ceiling for the benchmark: a bare Flask app answering constant JSON, on the mock's server.

Run: python bench/ceiling.py PORT THREADS
"""
from __future__ import annotations

import sys

from flask import Flask

from mock_server.server import serve

app = Flask(__name__)
BODY = {"status": "success", "data": {"externalId": "constant"}}


@app.post("/v1/user-journeys/users")
def constant() -> dict:
    return BODY


if __name__ == "__main__":
    serve(app, "127.0.0.1", int(sys.argv[1]), threads=int(sys.argv[2]), access_log=False)
