import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSdNotify, type SdNotifyDeps } from '../../../src/sys/sd-notify.js';

/** A recording sender in place of the native addon. */
function recorder(): { sent: [string, string][]; deps: SdNotifyDeps } {
  const sent: [string, string][] = [];
  return {
    sent,
    deps: { send: (path, message) => void sent.push([path, message]), monotonicUsec: () => 123456789n },
  };
}

describe('createSdNotify', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is a no-op without NOTIFY_SOCKET (and never loads the addon)', () => {
    const send = vi.fn();
    for (const env of [{}, { NOTIFY_SOCKET: '' }, { WATCHDOG_USEC: '1000000' }]) {
      const n = createSdNotify(env, { send });
      expect(n.enabled).toBe(false);
      expect(n.watchdogIntervalMs).toBeUndefined();
      expect([n.ready(), n.reloading(), n.stopping(), n.watchdog(), n.status('x')]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      n.startWatchdog()();
    }
    expect(send).not.toHaveBeenCalled();
  });

  it('sends the sd_notify(3) assignments, RELOADING=1 with MONOTONIC_USEC', () => {
    const { sent, deps } = recorder();
    const n = createSdNotify({ NOTIFY_SOCKET: '@ipvsd-test' }, deps);
    expect(n.enabled).toBe(true);
    n.ready();
    n.reloading();
    n.ready('reloaded');
    n.stopping();
    n.watchdog();
    n.status('3 virtual servers, 9 real servers up');
    expect(sent).toEqual([
      ['@ipvsd-test', 'READY=1'],
      ['@ipvsd-test', 'RELOADING=1\nMONOTONIC_USEC=123456789'],
      ['@ipvsd-test', 'READY=1\nSTATUS=reloaded'],
      ['@ipvsd-test', 'STOPPING=1'],
      ['@ipvsd-test', 'WATCHDOG=1'],
      ['@ipvsd-test', 'STATUS=3 virtual servers, 9 real servers up'],
    ]);
  });

  it('keeps a status on one line, so it cannot smuggle in another assignment', () => {
    const { sent, deps } = recorder();
    createSdNotify({ NOTIFY_SOCKET: '/run/systemd/notify' }, deps).status('bad\nREADY=1\r\nx');
    expect(sent).toEqual([['/run/systemd/notify', 'STATUS=bad READY=1 x']]);
  });

  it('reads CLOCK_MONOTONIC in microseconds by default', () => {
    const { sent } = recorder();
    const before = process.hrtime.bigint() / 1000n;
    createSdNotify({ NOTIFY_SOCKET: '@x' }, { send: (p, m) => void sent.push([p, m]) }).reloading();
    const after = process.hrtime.bigint() / 1000n;
    const usec = BigInt(/MONOTONIC_USEC=(\d+)/.exec(sent[0]?.[1] ?? '')?.[1] ?? '-1');
    expect(usec >= before && usec <= after).toBe(true);
  });

  it.each([
    [{ WATCHDOG_USEC: '10000000' }, 5000],
    [{ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '4242' }, 5000],
    [{ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '' }, 5000],
    [{ WATCHDOG_USEC: '1' }, 1],
    [{ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '4243' }, undefined],
    [{ WATCHDOG_USEC: '0' }, undefined],
    [{ WATCHDOG_USEC: '-5' }, undefined],
    [{ WATCHDOG_USEC: '10s' }, undefined],
    [{ WATCHDOG_USEC: '10000000', WATCHDOG_PID: 'abc' }, undefined],
    [{}, undefined],
  ])('watchdog interval from %j for pid 4242: %s ms', (env, expected) => {
    const n = createSdNotify({ NOTIFY_SOCKET: '@x', ...env }, { send: () => {}, pid: 4242 });
    expect(n.watchdogIntervalMs).toBe(expected);
  });

  it('has no watchdog interval without NOTIFY_SOCKET, whatever WATCHDOG_USEC says', () => {
    expect(createSdNotify({ WATCHDOG_USEC: '10000000' }).watchdogIntervalMs).toBeUndefined();
  });

  it('startWatchdog pings every interval on an unref-ed timer until stopped', () => {
    vi.useFakeTimers();
    const { sent, deps } = recorder();
    const n = createSdNotify({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '2000000' }, deps);
    expect(n.watchdogIntervalMs).toBe(1000);
    const stop = n.startWatchdog();
    vi.advanceTimersByTime(3500);
    expect(sent.map(([, m]) => m)).toEqual(['WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1']);
    stop();
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(3);
  });

  it('never throws: a failed send is returned, and logged once per run of failures', () => {
    const warn = vi.fn();
    let fail = true;
    const n = createSdNotify(
      { NOTIFY_SOCKET: '/nonexistent/notify' },
      {
        send: () => {
          if (fail) throw Object.assign(new Error('sendto ENOENT'), { errno: 2, code: 'ENOENT' });
        },
        logger: { warn },
      },
    );
    const first = n.ready();
    expect(first).toBeInstanceOf(Error);
    expect(first).toMatchObject({ errno: 2, code: 'ENOENT' });
    expect(n.watchdog()).toBeInstanceOf(Error);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({
      notifySocket: '/nonexistent/notify',
      notification: 'READY=1',
    });
    fail = false;
    expect(n.watchdog()).toBeUndefined();
    fail = true;
    expect(n.watchdog()).toBeInstanceOf(Error);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('turns a thrown non-Error into an Error value', () => {
    const n = createSdNotify(
      { NOTIFY_SOCKET: '@x' },
      {
        send: () => {
          throw 'boom';
        },
      },
    );
    expect(n.ready()?.message).toMatch(/boom/);
  });
});
