#!/usr/bin/env node
/**
 * The "real servers" of the check-scale benchmark: one process listening on many loopback addresses
 * (one listening socket per real server, so no accept queue sees more than a couple of SYNs per
 * second and bursts cannot overflow a backlog). It is the scenery, not the thing measured, so it does
 * as little as it can: a TCP server closes each connection as soon as it is accepted (the checker's
 * verdict was made at the SYN-ACK, before the accept); an HTTP server answers the first request head
 * with a fixed 200 and `Connection: close`. Every accepted connection is counted by source address,
 * which is how the orchestrator counts the checks HAProxy really performed (it checks from its own
 * source address).
 *
 * Started by run.mjs with an IPC channel: argv[2] is a JSON file `{ tcp: [ip...], http: [ip...], port }`.
 * Messages: `counts` → `{ type: 'counts', counts: { tcp: {src: n}, http: {src: n} } }`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const counts = { tcp: new Map(), http: new Map() };
const bump = (kind, src) => counts[kind].set(src, (counts[kind].get(src) ?? 0) + 1);
const noop = () => {};
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n',
  'latin1',
);
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

function onTcp(socket) {
  socket.on('error', noop);
  bump('tcp', socket.remoteAddress);
  socket.destroy();
}

function onHttp(socket) {
  socket.on('error', noop);
  bump('http', socket.remoteAddress);
  let head = null;
  socket.on('data', (chunk) => {
    head = head === null ? chunk : Buffer.concat([head, chunk]);
    if (head.includes(HEAD_END)) {
      socket.end(RESPONSE);
      head = Buffer.alloc(0);
    } else if (head.length > 16384) socket.destroy();
  });
}

function listen(address, handler) {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.once('error', reject);
    server.listen({ host: address, port: spec.port, backlog: 1024 }, () => resolve(server));
  });
}

const servers = [];
for (const ip of spec.tcp) servers.push(await listen(ip, onTcp));
for (const ip of spec.http) servers.push(await listen(ip, onHttp));

process.on('message', (msg) => {
  if (msg === 'counts')
    process.send({
      type: 'counts',
      counts: { tcp: Object.fromEntries(counts.tcp), http: Object.fromEntries(counts.http) },
    });
  else if (msg === 'stop') {
    for (const s of servers) s.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', listening: servers.length });
