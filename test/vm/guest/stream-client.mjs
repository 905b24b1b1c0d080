// One long-lived HTTP request through a VIP (the slow /stream of pair-server.mjs), run inside the
// client's namespace:
//   node stream-client.mjs HOST PORT CHUNKS INTERVAL_MS
// Prints "connected LOCAL_PORT" once the TCP connection is up (so the caller can find it in the
// directors' IPVS connection tables), then at the end one line "result {json}":
//   {"ok", "status", "server", "bytes", "expectedBytes", "lines", "inOrder", "maxStallMs", "lastDataAt",
//    "closedAt", "error"}
// ok means: HTTP 200, every byte the Content-Length promised, every line in sequence from one server.
// maxStallMs is the longest wait between two arrivals (the failover's visible gap for this
// connection); lastDataAt is when the last bytes arrived, in ms of CLOCK_MONOTONIC (process.hrtime,
// shared by every process on the machine), closedAt when the connection ended. Never exits before
// the connection ends; the caller bounds it.
import { createConnection } from 'node:net';

const [host, portArg, chunksArg, intervalArg] = process.argv.slice(2);
const chunks = Number(chunksArg ?? 50);
const intervalMs = Number(intervalArg ?? 200);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const socket = createConnection({ host, port: Number(portArg) });
let raw = '';
let error = null;
let last = nowMs();
let maxStallMs = 0;
socket.setEncoding('latin1');
socket.on('connect', () => {
  process.stdout.write(`connected ${socket.localPort}\n`);
  socket.write(
    `GET /stream?chunks=${chunks}&interval_ms=${intervalMs} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  last = nowMs();
});
socket.on('data', (chunk) => {
  const t = nowMs();
  maxStallMs = Math.max(maxStallMs, t - last);
  last = t;
  raw += chunk;
});
socket.on('error', (err) => {
  error = err.code ?? err.message;
});
socket.on('close', () => {
  const head = raw.indexOf('\r\n\r\n');
  const headers = head === -1 ? raw : raw.slice(0, head);
  const body = head === -1 ? '' : raw.slice(head + 4);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1] ?? 0);
  const expectedBytes = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? -1);
  const lines = body.split('\n').filter((l) => l !== '');
  const server = lines[0]?.split(' ')[0] ?? null;
  const inOrder =
    lines.length === chunks && lines.every((l, i) => l === `${server} ${String(i + 1).padStart(6, '0')}`);
  const bytes = Buffer.byteLength(body, 'latin1');
  const ok = error === null && status === 200 && bytes === expectedBytes && inOrder;
  const result = {
    ok,
    status,
    server,
    bytes,
    expectedBytes,
    lines: lines.length,
    inOrder,
    maxStallMs,
    lastDataAt: last,
    closedAt: nowMs(),
    error,
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
});
