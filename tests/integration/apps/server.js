// A Node.js http server: keep-alive by default, chunked when no length is set.
// With TLS_CERT and TLS_KEY, the same over HTTPS (Node's OpenSSL is linked in statically).
const fs = require("fs");
const http = require("http");
const https = require("https");

const handler = (req, res) => {
  res.setHeader("X-Path", req.url.split("?")[0]);
  if (req.url === "/ok") {
    res.setHeader("Content-Length", "3");
    res.end("ok\n");
  } else if (req.url.startsWith("/chunked")) {
    res.write("one\n");
    res.write("two\n");
    setImmediate(() => res.end("three\n"));
  } else if (req.url === "/echo") {
    let n = 0;
    req.on("data", (d) => { n += d.length; });
    req.on("end", () => res.end(n + "\n"));
  } else {
    res.statusCode = 404;
    res.end("not found\n");
  }
};
const server = process.env.TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT),
                         key: fs.readFileSync(process.env.TLS_KEY) }, handler)
  : http.createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log("listening on " + server.address().port);
});
