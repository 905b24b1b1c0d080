/**
 * The native sdNotify really delivers datagrams: a python3 process binds an AF_UNIX SOCK_DGRAM
 * socket (Node cannot), prints each datagram it receives as JSON with its CLOCK_MONOTONIC at
 * receipt, and the test reads them. Needs the addon that `npm ci` builds and python3.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { isNativeErrnoError, loadNative } from '../../src/sys/native.js';
import { createSdNotify } from '../../src/sys/sd-notify.js';

// argv[1]: a path, or '@name' for the abstract namespace. One JSON line per datagram.
const RECEIVER = `
import json, socket, sys, time
name = sys.argv[1]
addr = '\\0' + name[1:] if name.startswith('@') else name
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
print(json.dumps({'bound': True}), flush=True)
while True:
    data = s.recv(65536)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    print(json.dumps({'message': data.decode('utf-8', 'replace'), 'monotonicUsec': now}), flush=True)
`;

interface Datagram {
  message: string;
  monotonicUsec: number;
}

interface Receiver {
  /** The next `count` datagrams (waits up to 5 s). */
  next(count: number): Promise<Datagram[]>;
  /** Datagrams received and not yet taken. */
  pending(): number;
  stop(): void;
}

const receivers: ChildProcessWithoutNullStreams[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'ipvsd-sd-notify-'));

async function startReceiver(address: string): Promise<Receiver> {
  const child = spawn('python3', ['-c', RECEIVER, address]);
  receivers.push(child);
  const queue: Datagram[] = [];
  let wake: (() => void) | undefined;
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  let bound!: () => void;
  const ready = new Promise<void>((resolve) => {
    bound = resolve;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as Partial<Datagram> & { bound?: boolean };
    if (parsed.bound) bound();
    else queue.push(parsed as Datagram);
    wake?.();
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`python3 receiver exited (${code}): ${stderr}`))),
  );
  exited.catch(() => {});
  await Promise.race([ready, exited]);

  return {
    async next(count) {
      const deadline = Date.now() + 5000;
      while (queue.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} datagrams, got ${queue.length}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return queue.splice(0, count);
    },
    pending: () => queue.length,
    stop: () => child.kill(),
  };
}

afterEach(() => {
  for (const child of receivers.splice(0)) child.kill();
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('native sdNotify over AF_UNIX SOCK_DGRAM', () => {
  it('loads the addon built by npm ci', () => {
    expect(typeof loadNative().sdNotify).toBe('function');
  });

  it.each([
    ['a socket path', () => join(tmp, `notify-${randomBytes(4).toString('hex')}`)],
    ['an abstract name', () => `@ipvsd-test-${process.pid}-${randomBytes(4).toString('hex')}`],
  ])('delivers READY, RELOADING with MONOTONIC_USEC, STATUS, WATCHDOG, STOPPING to %s', async (_, make) => {
    const address = make();
    const receiver = await startReceiver(address);
    const notify = createSdNotify({ NOTIFY_SOCKET: address });
    expect(notify.enabled).toBe(true);

    expect(notify.ready()).toBeUndefined();
    const reloadSentUsec = Number(process.hrtime.bigint() / 1000n);
    expect(notify.reloading()).toBeUndefined();
    expect(notify.ready('reloaded: 2 virtual servers')).toBeUndefined();
    expect(notify.status('draining 198.51.100.11:8080')).toBeUndefined();
    expect(notify.watchdog()).toBeUndefined();
    expect(notify.stopping()).toBeUndefined();

    const got = await receiver.next(6);
    expect(got.map((d) => d.message.replace(/MONOTONIC_USEC=\d+/, 'MONOTONIC_USEC=N'))).toEqual([
      'READY=1',
      'RELOADING=1\nMONOTONIC_USEC=N',
      'READY=1\nSTATUS=reloaded: 2 virtual servers',
      'STATUS=draining 198.51.100.11:8080',
      'WATCHDOG=1',
      'STOPPING=1',
    ]);
    // MONOTONIC_USEC is CLOCK_MONOTONIC, the clock systemd compares it with: the receiver read that
    // clock after the datagram arrived, at most a few seconds later.
    const reload = got[1] as Datagram;
    const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(reload.message)?.[1]);
    expect(usec).toBeGreaterThanOrEqual(reloadSentUsec);
    expect(usec).toBeLessThanOrEqual(reload.monotonicUsec);
    expect(reload.monotonicUsec - usec).toBeLessThan(5_000_000);
  });

  it('startWatchdog pings at half of WATCHDOG_USEC', async () => {
    const address = `@ipvsd-test-wd-${process.pid}-${randomBytes(4).toString('hex')}`;
    const receiver = await startReceiver(address);
    const notify = createSdNotify({
      NOTIFY_SOCKET: address,
      WATCHDOG_USEC: '100000',
      WATCHDOG_PID: String(process.pid),
    });
    expect(notify.watchdogIntervalMs).toBe(50);
    // The interval timer is faked (the datagrams stay real): wall-clock gaps would measure the
    // machine's load, not the code.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const stop = notify.startWatchdog();
    try {
      vi.advanceTimersByTime(49);
      vi.advanceTimersByTime(1);
      expect((await receiver.next(1)).map((d) => d.message)).toEqual(['WATCHDOG=1']);
      vi.advanceTimersByTime(100);
      expect((await receiver.next(2)).map((d) => d.message)).toEqual(['WATCHDOG=1', 'WATCHDOG=1']);
      stop();
      vi.advanceTimersByTime(500);
      await new Promise((r) => setTimeout(r, 200));
      expect(receiver.pending()).toBe(0);
    } finally {
      stop();
      vi.useRealTimers();
    }
  });

  it('returns errno-bearing errors instead of throwing', () => {
    const missingPath = createSdNotify({ NOTIFY_SOCKET: join(tmp, 'no-such-socket') }).ready();
    expect(missingPath).toMatchObject({ errno: 2, code: 'ENOENT', syscall: 'sendto' });
    expect(isNativeErrnoError(missingPath)).toBe(true);

    const unbound = createSdNotify({
      NOTIFY_SOCKET: `@ipvsd-test-unbound-${randomBytes(8).toString('hex')}`,
    });
    expect(unbound.watchdog()).toMatchObject({ errno: 111, code: 'ECONNREFUSED' });

    // Relative paths and 'vsock:' addresses are not notification sockets a director can have.
    expect(createSdNotify({ NOTIFY_SOCKET: 'relative/notify' }).ready()).toMatchObject({
      code: 'EAFNOSUPPORT',
      syscall: 'sd_notify',
    });
    expect(createSdNotify({ NOTIFY_SOCKET: `/${'x'.repeat(200)}` }).ready()).toMatchObject({
      code: 'EINVAL',
    });
    expect(createSdNotify({ NOTIFY_SOCKET: '@' }).ready()).toMatchObject({ code: 'EINVAL' });
  });

  it('rejects wrong argument types with a TypeError, not a crash', () => {
    const addon = loadNative() as unknown as { sdNotify: (...args: unknown[]) => void };
    expect(() => addon.sdNotify('@x')).toThrow(TypeError);
    expect(() => addon.sdNotify(1, 'READY=1')).toThrow(/sdNotify\(socketPath: string, message: string\)/);
  });
});
