// node's http server answering every request with a small body: PORT from argv.
const http = require("http");
const body = Buffer.from("ok\n");
http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": body.length });
  res.end(body);
}).listen(Number(process.argv[2]), "127.0.0.1");
