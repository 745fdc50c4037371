"""Bodies over the limit are a 413 however they are sent, and a refused body never breaks the
client's connection: it reads the answer, and its next request works.

Each client sends, 20 times over, a request the mock refuses without reading its body (over the
limit: 413; no key: 401), then an ordinary upsert, on one keep-alive connection where the client
keeps one. Before the mock read such bodies to their end, Node's keep-alive agent failed the
next request with EPIPE or ECONNRESET in 15 to 20 of 20 rounds.
"""
from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
import requests

from mock_server import DEFAULT_MAX_BODY
from mock_server.server import DRAIN_CHUNK, DRAIN_CHUNKS

from live_server import start_server

TRACK = "/v1/user-journeys/users"
ROUNDS = 20
JSON = {"Content-Type": "application/json"}
KEY = {"X-API-Key": "pk_test_bodylimit", **JSON}
# The refused requests: headers, the size of the filler in the body, and the envelope that answers.
CASES = {
    "1.1 MB, over the 1 MiB limit": (KEY, 1_100_000, 413, "Request body too large"),
    "1.1 MB without a key": (JSON, 1_100_000, 401, "Missing X-API-Key header"),
}
IDS = list(CASES)

NODE_CLIENT = r"""
// Usage: node client.js CONFIG_JSON. Each round: the refused request, then an upsert; on one agent.
const http = require('http');
const { url, rounds, headers, fill, chunked } = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(headers, body, chunked) {
  return new Promise((resolve) => {
    const all = chunked ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) };
    const req = http.request(url + '/v1/user-journeys/users', { method: 'POST', agent, headers: all }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { data += chunk; });
      res.on('end', () => resolve([res.statusCode, data]));
    });
    req.on('error', (error) => resolve(['error', error.code]));
    if (chunked) {
      for (let at = 0; at < body.length; at += 65536) req.write(body.slice(at, at + 65536));
      req.end();
    } else {
      req.end(body);
    }
  });
}

(async () => {
  const big = JSON.stringify({ externalId: 'big', metadata: { blob: 'x'.repeat(fill) } });
  const results = [];
  for (let i = 0; i < rounds; i++) {
    const [status, body] = await post(headers, big, chunked);
    const [next] = await post({ 'X-API-Key': 'pk_test_bodylimit', 'Content-Type': 'application/json' },
                              JSON.stringify({ externalId: 'node-' + i }), false);
    results.push([status, body, next]);
  }
  agent.destroy();
  console.log(JSON.stringify(results));
})();
"""


@pytest.fixture(scope="module")
def server():
    live = start_server()
    yield live
    live.stop()


def big_body(fill: int) -> bytes:
    return json.dumps({"externalId": "big", "metadata": {"blob": "x" * fill}}).encode()


def chunks(body: bytes, size: int = 65536) -> Iterator[bytes]:
    return (body[at:at + size] for at in range(0, len(body), size))


def envelope(status: int, message: str) -> dict:
    return {"status": "error", "code": status, "message": message}


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
@pytest.mark.parametrize("case", IDS)
def test_node_keep_alive_agent(server, tmp_path, case, chunked):
    headers, fill, status, message = CASES[case]
    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    config = {"url": server.url, "rounds": ROUNDS, "headers": headers, "fill": fill, "chunked": chunked}
    result = subprocess.run(["node", str(script), json.dumps(config)], check=False, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rounds = [(first, json.loads(body) if first == status else body, second)
              for first, body, second in json.loads(result.stdout)]
    assert rounds == [(status, envelope(status, message), 200)] * ROUNDS


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
@pytest.mark.parametrize("case", IDS)
def test_http_client_on_one_connection(server, case, chunked):
    headers, fill, status, message = CASES[case]
    body = big_body(fill)
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for i in range(ROUNDS):
            if chunked:
                connection.request("POST", TRACK, chunks(body), headers, encode_chunked=True)
            else:
                connection.request("POST", TRACK, body, headers)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (status, envelope(status, message))
            connection.request("POST", TRACK, json.dumps({"externalId": f"client-{i}"}), KEY)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())["status"]) == (200, "success")
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
@pytest.mark.parametrize("case", IDS)
def test_requests_session(server, case, chunked):
    headers, fill, status, message = CASES[case]
    body = big_body(fill)
    with requests.Session() as session:
        for i in range(ROUNDS):
            refused = session.post(server.url + TRACK, data=chunks(body) if chunked else body, headers=headers,
                                   timeout=30)
            assert (refused.status_code, refused.json()) == (status, envelope(status, message))
            ok = session.post(server.url + TRACK, json={"externalId": f"session-{i}"}, headers=KEY, timeout=30)
            assert (ok.status_code, ok.json()["status"]) == (200, "success")


def test_a_body_past_the_drain_bound_is_answered_with_connection_close(server):
    # 16 MiB more than the mock reads: it answers, says it closes, and does (the client's last
    # writes then fail, which is why the client here writes from a thread of its own).
    size = DRAIN_CHUNK * DRAIN_CHUNKS + 16 * 1024 * 1024
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    head = (f"POST {TRACK} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY['X-API-Key']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            def send(sock: socket.socket = sock) -> None:
                try:
                    sock.sendall(head)
                    for _ in range(size // DRAIN_CHUNK):
                        sock.sendall(b" " * DRAIN_CHUNK)
                except OSError:  # the mock closed the connection, as it said it would
                    pass
            sender = threading.Thread(target=send)
            sender.start()
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = (response.status, response.getheader("Connection"), json.loads(response.read()))
            sender.join()
        assert answer == (413, "close", envelope(413, "Request body too large"))
    with requests.post(server.url + TRACK, json={"externalId": "after"}, headers=KEY, timeout=30) as ok:
        assert ok.status_code == 200


@pytest.mark.parametrize("padding, status", [(DEFAULT_MAX_BODY - 24, 200), (DEFAULT_MAX_BODY - 23, 413),
                                             (1_100_000, 413)])
def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(client, store, padding, status):
    # Valid JSON padded with spaces: werkzeug alone read the first 1 MiB of it and stored the profile.
    body = b'{"externalId": "padded"}' + b" " * padding
    response = client.post(TRACK, input_stream=io.BytesIO(body), headers={**KEY, "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})  # as granian sets it
    assert response.status_code == status
    if status == 413:
        assert response.get_json() == envelope(413, "Request body too large")
    assert len(store) == (status == 200)
