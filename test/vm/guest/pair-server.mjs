// A real server of the NAT pair (test/support/nat-pair.ts), run inside a real server's namespace:
//   node pair-server.mjs NAME HOST:PORT
//   GET /health           → 200 "ok"
//   GET /stream?chunks=N&interval_ms=M
//                         → 200 with Content-Length, N lines "NAME 000001\n" … one every M ms (a slow
//                           response that stays open across a failover; the client can check that
//                           every byte arrived, in order)
//   any other GET         → 200 NAME (which real server answered)
// Every answer closes the connection, so each request is a new IPVS scheduling decision. Prints
// "listening NAME HOST:PORT" once ready; exits on SIGTERM.
import { createServer } from 'node:http';

const [name, hostPort] = process.argv.slice(2);
if (!name || !hostPort) {
  process.stderr.write('usage: pair-server.mjs NAME HOST:PORT\n');
  process.exit(2);
}
const at = hostPort.lastIndexOf(':');
const host = hostPort.slice(0, at);
const port = Number(hostPort.slice(at + 1));

/** One line of a stream: fixed width, so the length of the whole response is known up front. */
const streamLine = (i) => `${name} ${String(i).padStart(6, '0')}\n`;

function stream(res, chunks, intervalMs) {
  const length = chunks * Buffer.byteLength(streamLine(1));
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(length), connection: 'close' });
  let i = 0;
  const timer = setInterval(() => {
    i += 1;
    if (i >= chunks) {
      clearInterval(timer);
      res.end(streamLine(i));
    } else {
      res.write(streamLine(i));
    }
  }, intervalMs);
  // A client that went away: stop writing (its socket would only queue data).
  res.on('close', () => clearInterval(timer));
}

const server = createServer((req, res) => {
  req.socket.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/stream') {
    const chunks = Math.max(1, Number(url.searchParams.get('chunks') ?? 50));
    const intervalMs = Math.max(1, Number(url.searchParams.get('interval_ms') ?? 200));
    stream(res, chunks, intervalMs);
    return;
  }
  const body = url.pathname === '/health' ? 'ok' : name;
  res.writeHead(200, {
    'content-type': 'text/plain',
    'content-length': String(body.length),
    connection: 'close',
  });
  res.end(body);
});
server.keepAliveTimeout = 1000;
server.listen({ host, port }, () => process.stdout.write(`listening ${name} ${hostPort}\n`));
process.on('SIGTERM', () => process.exit(0));
