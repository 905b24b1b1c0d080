// A real server of the ECMP topology (test/vm/ecmp-topology.ts), run inside a real server's namespace:
//   node ecmp-server.mjs NAME PORT...
// Listens on every address (the VIP on lo in DR mode, its own address in full-NAT mode) on each PORT:
//   GET /stream?chunks=N&interval_ms=M → 200 with Content-Length, N fixed-width lines "NAME 000001\n"…,
//                                        one every M ms (a long-lived connection)
//   any other GET                      → 200 "NAME REMOTE_ADDRESS" (who answered, and whom it saw:
//                                        the client in DR mode, a director in full-NAT mode)
// Every answer closes the connection. Prints "listening NAME" once every port is open; exits on SIGTERM.
import { createServer } from 'node:http';

const [name, ...ports] = process.argv.slice(2);
if (!name || ports.length === 0) {
  process.stderr.write('usage: ecmp-server.mjs NAME PORT...\n');
  process.exit(2);
}
const streamLine = (i) => `${name} ${String(i).padStart(6, '0')}\n`;

function handler(req, res) {
  req.socket.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/stream') {
    const chunks = Math.max(1, Number(url.searchParams.get('chunks') ?? 50));
    const intervalMs = Math.max(1, Number(url.searchParams.get('interval_ms') ?? 200));
    res.writeHead(200, {
      'content-length': String(chunks * Buffer.byteLength(streamLine(1))),
      connection: 'close',
    });
    let i = 0;
    const timer = setInterval(() => {
      i += 1;
      if (i >= chunks) {
        clearInterval(timer);
        res.end(streamLine(i));
      } else res.write(streamLine(i));
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
    return;
  }
  const body = `${name} ${(req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')}`;
  res.writeHead(200, { 'content-length': String(body.length), connection: 'close' });
  res.end(body);
}

let open = 0;
for (const port of ports) {
  const server = createServer(handler);
  server.keepAliveTimeout = 1000;
  server.on('error', (err) => {
    process.stderr.write(`port ${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen({ port: Number(port) }, () => {
    open += 1;
    if (open === ports.length) process.stdout.write(`listening ${name}\n`);
  });
}
process.on('SIGTERM', () => process.exit(0));
