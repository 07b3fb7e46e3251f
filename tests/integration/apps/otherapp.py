"""A second service: one endpoint, no work."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6"),
                              ("X-Path", environ["PATH_INFO"])])
    return [b"other\n"]
