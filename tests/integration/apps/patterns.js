// A Node.js http server with the response patterns that stress a framing parser:
// many writes in one tick (one writev of many iovecs), a stream to a slow reader,
// request bodies, WebDAV methods. With CLUSTER=N, N workers behind a master that
// accepts every connection and hands it to a worker (cluster round-robin).
const cluster = require("cluster");
const http = require("http");

const handler = (req, res) => {
  const path = req.url.split("?")[0];
  res.setHeader("X-Path", path);
  if (path === "/multi") {
    // head and nine chunks flushed together: one writev of 25 or more iovecs
    for (let i = 0; i < 8; i++) res.write("part " + i + "\n");
    res.end("last\n");
  } else if (path === "/stream") {
    // 64 chunks of 32 KiB written at once: the socket fills, Node queues the rest
    // and flushes them with writev as a slow client reads
    const chunk = Buffer.alloc(32768, 0x61);
    for (let i = 0; i < 63; i++) res.write(chunk);
    res.end(chunk);
  } else if (req.method === "POST" || req.method === "PROPFIND") {
    let n = 0;
    req.on("data", (d) => { n += d.length; });
    req.on("end", () => {
      res.statusCode = req.method === "PROPFIND" ? 207 : 201;
      res.end(n + "\n");
    });
  } else if (path === "/ok") {
    res.setHeader("Content-Length", "3");
    res.end("ok\n");
  } else {
    res.statusCode = 404;
    res.end("not found\n");
  }
};

const workers = Number(process.env.CLUSTER || 0);
if (workers && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  for (let i = 0; i < workers; i++) cluster.fork();
  let up = 0;
  cluster.on("listening", () => { if (++up === workers) console.log("listening"); });
} else {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60000;
  server.listen(Number(process.argv[2]), "127.0.0.1", () => {
    if (!workers) console.log("listening on " + server.address().port);
  });
}
