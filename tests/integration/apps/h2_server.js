// Node.js http2 (h2c, prior knowledge) for the tests: node h2_server.js PORT
//   /ok        200, a small body
//   /missing   404
//   /big       200, 256 KiB written in 16 pieces (DATA frames across many writes)
//   /trailers  200, a body, then trailers
//   /upload    200, the size of the request body it read
const http2 = require("http2");

const port = Number(process.argv[2]);
const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const path = headers[":path"];
  if (path === "/ok") {
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end("ok\n");
  } else if (path === "/big") {
    stream.respond({ ":status": 200 });
    const piece = Buffer.alloc(16384, 98);
    let n = 0;
    const more = () => {
      while (n < 16) {
        n++;
        if (n === 16) {
          stream.end(piece);
          return;
        }
        if (!stream.write(piece)) {
          stream.once("drain", more);
          return;
        }
      }
    };
    more();
  } else if (path === "/trailers") {
    stream.respond({ ":status": 200 }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "x-checksum": "abc" }));
    stream.end("with trailers\n");
  } else if (path === "/upload") {
    let size = 0;
    stream.on("data", (d) => { size += d.length; });
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end(String(size));
    });
  } else {
    stream.respond({ ":status": 404 });
    stream.end();
  }
});
server.listen(port, "127.0.0.1");
