// A server that answers pipelined requests in one write: every complete request it
// has read gets its response, all of them in a single write() of the socket.
// GET requests without bodies only; enough to model servers that batch.
const net = require("net");

net.createServer((sock) => {
  let buf = "";
  sock.on("data", (d) => {
    buf += d.toString("latin1");
    let out = "";
    let end;
    while ((end = buf.indexOf("\r\n\r\n")) >= 0) {
      const path = buf.split(" ")[1];
      buf = buf.slice(end + 4);
      const body = path === "/ok" ? "ok\n" : "not found\n";
      out += (path === "/ok" ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
             "Content-Length: " + body.length + "\r\n\r\n" + body;
    }
    if (out) sock.write(out);
  });
}).listen(Number(process.argv[2]), "127.0.0.1");
