// Driver for node-agent.mjs: our compiled VRRP socket and address announcements. Sockets are
// named by the test; what they receive is queued here (payloads as hex, for JSON) until the test
// takes it.
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { announceAddress, sendGratuitousArp, sendUnsolicitedNa } from '../../../dist/src/sys/garp.js';
import { loadNative } from '../../../dist/src/sys/native.js';
import { openVrrpSocket } from '../../../dist/src/sys/vrrp-socket.js';

const sockets = new Map();
const VRRP_SOCKET_MODULE = new URL('../../../dist/src/sys/vrrp-socket.js', import.meta.url).href;

function serializeError(error) {
  if (error === undefined) return null;
  return {
    name: error.name,
    message: error.message,
    code: error.code,
    errno: error.errno,
    syscall: error.syscall,
    cause: error.cause instanceof Error ? error.cause.message : undefined,
  };
}

function entryFor(name) {
  const entry = sockets.get(name);
  if (entry === undefined) throw new Error(`no socket named ${name}`);
  return entry;
}

function newEntry(name) {
  if (sockets.has(name)) throw new Error(`socket ${name} is already open`);
  const entry = {
    packets: [],
    stamps: [],
    errors: [],
    throwOnPacket: false,
    throwOnError: false,
    socket: undefined,
  };
  return entry;
}

/**
 * Queues the packet (payload as hex) and, apart, its kernel receive time next to the wall clock
 * when JavaScript got it (receivedAt is left out of the packet, so tests compare packets exactly).
 */
function record(entry, packet) {
  const readAt = Date.now();
  const { receivedAt, ...rest } = packet;
  entry.packets.push({ ...rest, payload: packet.payload.toString('hex') });
  entry.stamps.push({ receivedAt: receivedAt ?? null, readAt });
}

/** Through src/sys/vrrp-socket.ts. options: { family, ifname, sourceAddress?, hopLimit? }. */
export function open(name, options) {
  const entry = newEntry(name);
  entry.socket = openVrrpSocket({
    family: options.family,
    ifname: options.ifname,
    sourceAddress: options.sourceAddress ?? undefined,
    hopLimit: options.hopLimit ?? undefined,
    onPacket(packet) {
      record(entry, packet);
      if (entry.throwOnPacket) throw new Error('onPacket threw on purpose');
    },
    onError(error) {
      entry.errors.push(serializeError(error));
      if (entry.throwOnError) throw new Error('onError threw on purpose');
    },
  });
  sockets.set(name, entry);
  return { ifindex: entry.socket.ifindex, group: entry.socket.group, family: entry.socket.family };
}

/** The addon's VrrpSocket without the TypeScript guard, with callbacks that both throw. */
export function openNativeThrowing(name, family, ifname) {
  const entry = newEntry(name);
  const Native = loadNative().VrrpSocket;
  const handle = new Native(
    { family, ifname, hopLimit: 255 },
    (payload, source, destination, ttl, ifindex) => {
      record(entry, { payload, source, destination, ttl, ifindex });
      throw new Error('native onPacket threw on purpose');
    },
    (error) => {
      entry.errors.push(serializeError(error));
      throw new Error('native onError threw on purpose');
    },
  );
  entry.socket = { close: () => handle.close(), send: (payload, dst) => handle.send(payload, dst) };
  sockets.set(name, entry);
  return { ifindex: handle.ifindex };
}

export function setThrowing(name, onPacket, onError) {
  const entry = entryFor(name);
  entry.throwOnPacket = onPacket;
  entry.throwOnError = onError;
}

/** Sends hex bytes; returns the error as a value (null on success), as send() does. */
export function send(name, payloadHex, destination) {
  const entry = entryFor(name);
  const result = entry.socket.send(Buffer.from(payloadHex, 'hex'), destination ?? undefined);
  return serializeError(result ?? undefined);
}

/**
 * Sends the same hex bytes `count` times in one synchronous loop (a flood: nothing else runs
 * meanwhile). Returns how many sends succeeded and the distinct errors of the others.
 */
export function flood(name, payloadHex, count, destination) {
  const entry = entryFor(name);
  const payload = Buffer.from(payloadHex, 'hex');
  let sent = 0;
  const errors = new Set();
  for (let i = 0; i < count; i++) {
    const result = entry.socket.send(payload, destination ?? undefined);
    if (result === undefined) sent++;
    else errors.add(result.code ?? result.message);
  }
  return { sent, errors: [...errors] };
}

/**
 * Blocks this process's event loop for `ms` (so nothing reads the sockets meanwhile), writing
 * `flagPath` first to say so.
 */
export function blockFor(ms, flagPath) {
  writeFileSync(flagPath, 'blocked\n');
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: a blocked event loop, as a stalled daemon's
  }
  return null;
}

/** The socket's count of packets the kernel dropped on it (SO_RXQ_OVFL). */
export function drops(name) {
  return entryFor(name).socket.drops();
}

/** Waits until `count` packets are queued (or the timeout passes) and takes everything queued. */
export async function takePackets(name, count = 0, timeoutMs = 5000) {
  const entry = entryFor(name);
  const deadline = Date.now() + timeoutMs;
  while (entry.packets.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return entry.packets.splice(0);
}

/**
 * Blocks this process's event loop (so libuv never polls the socket), writes `flagPath` to say
 * so, and calls receivePending() until a packet is delivered or `timeoutMs` passes. Returns how
 * many packets receivePending() delivered: any that arrive can only come that way.
 */
export function drainWhileBlocked(name, flagPath, timeoutMs = 10_000) {
  const entry = entryFor(name);
  const before = entry.packets.length;
  writeFileSync(flagPath, 'blocked\n');
  const deadline = Date.now() + timeoutMs;
  while (entry.packets.length === before && Date.now() < deadline) entry.socket.receivePending();
  return entry.packets.length - before;
}

/** The { receivedAt, readAt } of the packets taken so far (and since the last call). */
export function takeStamps(name) {
  return entryFor(name).stamps.splice(0);
}

export function errors(name) {
  return entryFor(name).errors.splice(0);
}

export function closeSocket(name) {
  entryFor(name).socket.close();
}

export function isClosed(name) {
  return entryFor(name).socket.closed;
}

/**
 * Starts a worker thread that opens an IPv4 and an IPv6 socket on `ifname`, sends on them every
 * millisecond, and terminates it after `lingerMs` with both sockets still open. Resolves with
 * the number of packets the worker had received and its exit code.
 */
export async function terminateWorkerWithOpenSockets(ifname, lingerMs) {
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(VRRP_SOCKET_MODULE)}).then(({ openVrrpSocket }) => {
      let received = 0;
      const open = (family) => openVrrpSocket({
        family, ifname: ${JSON.stringify(ifname)},
        onPacket: () => { received++; parentPort.postMessage({ received }); },
        onError: () => {},
      });
      const sockets = [open('inet'), open('inet6')];
      setInterval(() => { for (const s of sockets) s.send(Buffer.from('2101', 'hex')); }, 1);
      parentPort.postMessage({ open: true });
    });`;
  const worker = new Worker(source, { eval: true });
  let received = 0;
  await new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (m.open) resolve();
      if (typeof m.received === 'number') received = m.received;
    });
    worker.once('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, lingerMs));
  const exitCode = await worker.terminate();
  return { received, exitCode };
}

export const gratuitousArp = (ifname, address) => serializeError(sendGratuitousArp(ifname, address));
export const unsolicitedNa = (ifname, address, options) =>
  serializeError(sendUnsolicitedNa(ifname, address, options ?? {}));
export const announce = (ifname, address, options) =>
  serializeError(announceAddress(ifname, address, options ?? {}));

export function close() {
  for (const entry of sockets.values()) entry.socket.close();
  sockets.clear();
}
