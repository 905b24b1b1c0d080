// Client load for the ECMP topology (test/vm/ecmp-topology.ts), run inside the client's namespace.
// One process for many connections: under TCG a process start costs more than a hundred requests.
//
//   node ecmp-client.mjs requests HOST PORT COUNT CONCURRENCY TIMEOUT_MS
//     COUNT GETs, each on a new connection (a new source port, so a new ECMP and IPVS decision),
//     CONCURRENCY at a time. Prints one line "result {json}":
//     {"ok", "failed", "bodies": {"rs1 198.51.100.1": 12, …}, "errors": {"ECONNRESET": 1}, "ms"}
//   node ecmp-client.mjs streams HOST PORT COUNT CHUNKS INTERVAL_MS
//     COUNT long-lived GET /stream connections at once. Prints "connected PORT PORT…" (the local
//     ports, to find each connection in the directors' IPVS tables) once all are up, then at the end
//     "result [{"port", "ok", "server", "lines", "error"}]": ok = HTTP 200, every promised byte,
//     every line in order from one server; a stream silent for 15 s counts as broken (ESTALLED).
//   node ecmp-client.mjs probe HOST PORT INTERVAL_MS TIMEOUT_MS
//     a new GET every INTERVAL_MS until stdin closes or SIGTERM; then "result {json}" as for
//     requests, plus "failedAt": [ms since start of each failed attempt].
import { createConnection } from 'node:net';

const [mode, host, portArg, ...rest] = process.argv.slice(2);
const port = Number(portArg);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * One HTTP/1.1 GET on a new connection; resolves {ok, body, error, localPort}. timeoutMs bounds
 * the whole request (0: none); idleMs gives up on a connection that stays silent that long (a
 * broken stream whose packets go nowhere would otherwise wait for TCP's own retries, minutes).
 */
function get(path, timeoutMs, onConnect, idleMs = 0) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let raw = '';
    let done = false;
    let localPort = 0;
    const finish = (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const sep = raw.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d+)/.exec(raw)?.[1];
      const len = Number(/content-length: (\d+)/i.exec(raw)?.[1] ?? -1);
      const body = sep >= 0 ? raw.slice(sep + 4) : '';
      const complete = status === '200' && Buffer.byteLength(body, 'latin1') === len;
      resolve({ ok: !error && complete, body, error: error ?? (complete ? null : 'short'), localPort });
    };
    const timer = timeoutMs > 0 ? setTimeout(() => finish('ETIMEDOUT'), timeoutMs) : null;
    if (idleMs > 0) socket.setTimeout(idleMs, () => finish('ESTALLED'));
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      localPort = socket.localPort;
      onConnect?.(localPort);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d) => {
      raw += d;
    });
    socket.on('end', () => finish(null));
    socket.on('error', (err) => finish(err.code ?? err.message));
  });
}

function tally() {
  const t = { ok: 0, failed: 0, bodies: {}, errors: {} };
  t.add = (r) => {
    if (r.ok) {
      t.ok += 1;
      t.bodies[r.body] = (t.bodies[r.body] ?? 0) + 1;
    } else {
      t.failed += 1;
      t.errors[r.error] = (t.errors[r.error] ?? 0) + 1;
    }
  };
  return t;
}
const print = (obj) => {
  const { add: _, ...rest2 } = obj;
  process.stdout.write(`result ${JSON.stringify(rest2)}\n`);
};

if (mode === 'requests') {
  const [count, concurrency, timeoutMs] = rest.map(Number);
  const t = tally();
  const start = nowMs();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      t.add(await get('/', timeoutMs));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  print({ ...t, ms: Math.round(nowMs() - start) });
} else if (mode === 'streams') {
  /** A stream silent this long is counted broken (it sends a line every INTERVAL_MS). */
  const STREAM_IDLE_MS = 15_000;
  const [count, chunks, intervalMs] = rest.map(Number);
  const ports = [];
  const all = [];
  for (let i = 0; i < count; i++) {
    all.push(
      get(
        `/stream?chunks=${chunks}&interval_ms=${intervalMs}`,
        0,
        (p) => {
          ports.push(p);
          if (ports.length === count) process.stdout.write(`connected ${ports.join(' ')}\n`);
        },
        STREAM_IDLE_MS,
      ),
    );
  }
  const results = await Promise.all(all);
  const out = results.map((r) => {
    const lines = r.body.split('\n').filter((l) => l !== '');
    const server = lines[0]?.split(' ')[0] ?? null;
    const inOrder = lines.every((l, i) => l === `${server} ${String(i + 1).padStart(6, '0')}`);
    return {
      port: r.localPort,
      ok: r.ok && inOrder && lines.length === chunks,
      server,
      lines: lines.length,
      error: r.error,
    };
  });
  process.stdout.write(`result ${JSON.stringify(out)}\n`);
} else if (mode === 'probe') {
  const [intervalMs, timeoutMs] = rest.map(Number);
  const t = tally();
  t.failedAt = [];
  const start = nowMs();
  const pending = new Set();
  let stopping = false;
  const timer = setInterval(() => {
    const s = nowMs() - start;
    const p = get('/', timeoutMs).then((r) => {
      t.add(r);
      if (!r.ok) t.failedAt.push(Math.round(s));
      pending.delete(p);
    });
    pending.add(p);
  }, intervalMs);
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await Promise.all(pending);
    print({ ...t, ms: Math.round(nowMs() - start) });
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.stdout.write('ready\n');
} else {
  process.stderr.write('usage: ecmp-client.mjs requests|streams|probe HOST PORT …\n');
  process.exit(2);
}
