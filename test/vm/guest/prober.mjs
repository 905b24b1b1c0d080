// Continuous requests through a VIP, for failover tests and the takeover benchmark; run inside the
// client's namespace:
//   node prober.mjs HOST PORT INTERVAL_MS TIMEOUT_MS
// Starts a new request every INTERVAL_MS, whether or not the earlier ones finished (a stalled
// connection must not hide when the service comes back), each on its own TCP connection: send
// "GET /", expect a 200 whose body names the real server, give up after TIMEOUT_MS. One JSON line
// per finished attempt on stdout:
//   {"s": start, "e": end, "ok": true, "rs": "rs1"} or {"s", "e", "ok": false, "err": "ETIMEDOUT"}
// with times in ms of CLOCK_MONOTONIC (process.hrtime), the clock every process on the machine
// shares, so the caller can line them up with its own events (a kill, a link going down). Prints
// "ready" first; stops when stdin closes or on SIGTERM.
import { createConnection } from 'node:net';

const [host, portArg, intervalArg, timeoutArg] = process.argv.slice(2);
const port = Number(portArg);
const intervalMs = Number(intervalArg ?? 20);
const timeoutMs = Number(timeoutArg ?? 1000);
if (!host || !(port > 0) || !(intervalMs > 0) || !(timeoutMs > 0)) {
  process.stderr.write('usage: prober.mjs HOST PORT INTERVAL_MS TIMEOUT_MS\n');
  process.exit(2);
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const request = `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

function attempt() {
  const s = nowMs();
  let settled = false;
  let data = '';
  const socket = createConnection({ host, port });
  const finish = (result) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    process.stdout.write(`${JSON.stringify({ s, e: nowMs(), ...result })}\n`);
  };
  const timer = setTimeout(() => finish({ ok: false, err: 'ETIMEDOUT' }), timeoutMs);
  socket.setEncoding('latin1');
  socket.on('connect', () => socket.write(request));
  socket.on('data', (chunk) => {
    data += chunk;
  });
  socket.on('error', (err) => finish({ ok: false, err: err.code ?? err.message }));
  socket.on('close', () => {
    const m = /^HTTP\/1\.[01] (\d{3})[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(data);
    if (m && m[1] === '200' && m[2] !== '') finish({ ok: true, rs: m[2] });
    else finish({ ok: false, err: m ? `HTTP ${m[1]}` : 'EBADREPLY' });
  });
}

const ticker = setInterval(attempt, intervalMs);
const stop = () => {
  clearInterval(ticker);
  // Attempts still in flight end by their own timeout; then the event loop empties and node exits.
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write('ready\n');
