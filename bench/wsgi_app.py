"""The mock as a WSGI module path (`wsgi_app:app`) for servers that import their app."""
from mock_server import create_app

app = create_app()


def constant(environ, start_response):
    """The ceiling: a constant JSON answer with no framework at all."""
    body = b'{"status":"success"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
