/**
 * A file check's value × weight on the real server's weight (keepalived's FILE_CHECK with a
 * weight): the arithmetic and clamping (check_daemon.c set_effective_weights sums every checker's
 * cur_weight onto iweight; check_data.h real_weight clamps to 0..IPVS_WEIGHT_LIMIT), the pure
 * decision, and the director against the in-memory kernel with a monitor the test drives: a change
 * of delta is one edit of the destination (ipwrapper.c update_svr_wgt: LVS_CMD_EDIT_DEST), never a
 * removal and re-add.
 */
import { describe, expect, it } from 'vitest';
import type { HealthMonitor, ResultListener, TargetStatus } from '../../../src/check/monitor.js';
import type { ProbeResult } from '../../../src/check/result.js';
import { checkTargetId } from '../../../src/check/target-id.js';
import { parseConfig } from '../../../src/config/load.js';
import type { CheckConfig, Config } from '../../../src/config/types.js';
import { decide, drainKey, type Health } from '../../../src/director/desired-state.js';
import { createDirector } from '../../../src/director/director.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { noopMetrics } from '../../../src/metrics/types.js';
import { effectiveWeight, INT32_MAX } from '../../../src/model/track-file.js';
import { createLogger } from '../../../src/sys/logger.js';

describe('effectiveWeight (check_data.h real_weight over iweight + the deltas)', () => {
  it.each([
    [5, 0, 5],
    [5, 2, 7],
    [5, -5, 0],
    [5, -6, 0],
    [0, 3, 3],
    [3, INT32_MAX, INT32_MAX],
    [INT32_MAX, INT32_MAX, INT32_MAX],
    [1, -2147483648, 0],
  ])('weight %i, delta %i: %i', (configured, delta, expected) => {
    expect(effectiveWeight(configured, delta)).toBe(expected);
  });
});

function load(text: string): Config {
  const { config, issues } = parseConfig(text, 'test.yaml');
  expect(issues).toEqual([]);
  return config as Config;
}

const CONFIG = `virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
    scheduler: wrr
    quorum: 10
    real_servers:
      - address: 198.51.100.11
        port: 8080
        weight: 5
        check: { type: file, file: /run/w1, weight: 2 }
      - address: 198.51.100.12
        port: 8080
        weight: 3
        inhibit_on_failure: true
        checks:
          - { type: file, file: /run/w2, weight: -2 }
          - { type: file, file: /run/w1, weight: 2 }
      - { address: 198.51.100.13, port: 8080, weight: 1 }
`;

describe('decide with weight deltas', () => {
  const c = load(CONFIG);
  const deltas = (map: Record<string, number>) => (_vs: unknown, rs: { address: string }) =>
    map[rs.address] ?? 0;
  const run = (
    delta: Record<string, number>,
    health: (a: string) => Health = () => 'up',
    drained = new Set<string>(),
  ) =>
    decide({
      virtualServers: c.virtualServers,
      health: (_vs, rs) => health(rs.address),
      weightDelta: deltas(delta),
      drained,
      quorumMet: new Map(),
    });
  const weights = (d: ReturnType<typeof run>) =>
    d.services[0]?.destinations.map((x) => `${x.address}=${x.weight}`);

  it('adds each real server its delta, clamped at 0 (the destination stays)', () => {
    const d = run({ '198.51.100.11': 20, '198.51.100.12': -7 });
    expect(weights(d)).toEqual(['198.51.100.11=25', '198.51.100.12=0', '198.51.100.13=1']);
    // keepalived's quorum counts effective weights (ipwrapper.c weigh_live_realservers).
    expect(d.virtualServers[0]).toMatchObject({ liveWeight: 26, quorumMet: true });
  });

  it('a drained real server stays at 0 and out of the live weight; a failed inhibited one at 0', () => {
    const drained = new Set([drainKey('web', { address: '198.51.100.11', port: 8080 })]);
    const d = run(
      { '198.51.100.11': 20, '198.51.100.12': 4 },
      (a) => (a === '198.51.100.12' ? 'down' : 'up'),
      drained,
    );
    expect(weights(d)).toEqual(['198.51.100.11=0', '198.51.100.12=0', '198.51.100.13=1']);
    expect(d.virtualServers[0]).toMatchObject({ liveWeight: 1, quorumMet: false });
  });

  it('the same deltas give the same service object; another delta a new one', () => {
    const a = run({ '198.51.100.11': 2 });
    const b = run({ '198.51.100.11': 2 });
    const other = run({ '198.51.100.11': 4 });
    expect(b.services[0]).toBe(a.services[0]);
    expect(other.services[0]).not.toBe(a.services[0]);
    expect(weights(other)?.[0]).toBe('198.51.100.11=9');
  });

  it('without weightDelta every live real server has its configured weight', () => {
    const d = decide({
      virtualServers: c.virtualServers,
      health: () => 'up',
      drained: new Set(),
      quorumMet: new Map(),
    });
    expect(weights(d)).toEqual(['198.51.100.11=5', '198.51.100.12=3', '198.51.100.13=1']);
  });
});

/** A monitor whose states the test sets, as the checks child's results would. */
function fakeMonitor() {
  const states = new Map<string, TargetStatus>();
  const listeners: ((id: string, s: TargetStatus) => void)[] = [];
  const resultListeners: ResultListener[] = [];
  const monitor: HealthMonitor = {
    update: () => {},
    status: (id) => states.get(id),
    snapshot: () => states,
    onChange: (l) => {
      listeners.push(l);
      return () => {};
    },
    onResult: (l) => {
      resultListeners.push(l);
      return () => {};
    },
    stop: async () => {},
  };
  /** A result that changes nothing the monitor reports as a change (first read, delta 0). */
  const read = (id: string) => {
    const status: TargetStatus = {
      health: 'up',
      consecutiveOk: 1,
      consecutiveFail: 0,
      lastResult: { ok: true, latencyMs: 0, reason: 'value 0' },
      lastCheckedAt: 0,
      weightDelta: 0,
    };
    states.set(id, status);
    for (const l of resultListeners) l(id, status.lastResult as ProbeResult, status, undefined);
  };
  const set = (id: string, health: 'up' | 'down', weightDelta: number) => {
    const status: TargetStatus = {
      health,
      consecutiveOk: health === 'up' ? 1 : 0,
      consecutiveFail: health === 'up' ? 0 : 1,
      lastResult: { ok: health === 'up', latencyMs: 0, reason: 'value', weightDelta },
      lastCheckedAt: 0,
      weightDelta,
    };
    states.set(id, status);
    for (const l of resultListeners) l(id, status.lastResult as ProbeResult, status, undefined);
    for (const l of listeners) l(id, status);
  };
  return { monitor, set, read };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('director: file check deltas on the kernel weight', () => {
  async function setup() {
    const config = load(CONFIG);
    const kernel = createMemoryBackend();
    const m = fakeMonitor();
    const director = createDirector(config, {
      backend: () => kernel,
      monitor: m.monitor,
      metrics: noopMetrics,
      logger: createLogger({ level: 'silent' }),
    });
    await director.start();
    const [rs1, rs2] = config.virtualServers[0]?.realServers ?? [];
    const w1 = checkTargetId(rs1?.checks[0] as CheckConfig);
    const w2 = checkTargetId(rs2?.checks[0] as CheckConfig);
    expect(checkTargetId(rs2?.checks[1] as CheckConfig)).toBe(w1);
    const weights = async () => (await kernel.dump())[0]?.destinations.map((d) => `${d.address}=${d.weight}`);
    const opsSince = (n: number) =>
      kernel
        .history()
        .slice(n)
        .map((r) => r.operation.kind);
    return { director, kernel, weights, opsSince, w1, w2, ...m };
  }

  it('before any result the configured weights; then weight + the sum of the deltas, by one edit each', async () => {
    const { director, kernel, weights, opsSince, set, w1, w2 } = await setup();
    expect(await weights()).toEqual(['198.51.100.11=5', '198.51.100.12=3', '198.51.100.13=1']);
    const before = kernel.history().length;
    // w1 (value 10 × 2) is shared by both real servers: one target, its delta added to each.
    set(w1, 'up', 20);
    await nextTurn();
    await director.resync();
    expect(await weights()).toEqual(['198.51.100.11=25', '198.51.100.12=23', '198.51.100.13=1']);
    expect(opsSince(before)).toEqual(['edit-destination', 'edit-destination']);

    const mid = kernel.history().length;
    set(w2, 'up', -2);
    await nextTurn();
    expect(await weights()).toEqual(['198.51.100.11=25', '198.51.100.12=21', '198.51.100.13=1']);
    expect(opsSince(mid)).toEqual(['edit-destination']);

    const status = await director.status(0);
    expect(
      status.virtual_servers[0]?.real_servers.map((r) => [r.weight, r.effective_weight, r.kernel_weight]),
    ).toEqual([
      [5, 25, 25],
      [3, 21, 21],
      [1, 1, 1],
    ]);
    expect(status.virtual_servers[0]?.quorum.live_weight).toBe(47);
  });

  it('below zero the destination stays at weight 0; a failed file check removes or inhibits as before', async () => {
    const { director, kernel, weights, opsSince, set, w1, w2 } = await setup();
    const before = kernel.history().length;
    set(w1, 'up', -6);
    await nextTurn();
    expect(await weights()).toEqual(['198.51.100.11=0', '198.51.100.12=0', '198.51.100.13=1']);
    expect(opsSince(before)).toEqual(['edit-destination', 'edit-destination']);
    set(w2, 'down', 0);
    await nextTurn();
    // rs2 is inhibit_on_failure: still 0, still there.
    expect(await weights()).toEqual(['198.51.100.11=0', '198.51.100.12=0', '198.51.100.13=1']);
    set(w1, 'down', 0);
    await nextTurn();
    expect(await weights()).toEqual(['198.51.100.12=0', '198.51.100.13=1']);
    set(w1, 'up', 2);
    set(w2, 'up', 0);
    await nextTurn();
    // Re-added (it was removed), so last in the kernel's order.
    expect(await weights()).toEqual(['198.51.100.12=5', '198.51.100.13=1', '198.51.100.11=7']);
    await director.stop({ removeServices: false });
  });

  it('a drained real server stays at 0 whatever its file says, and comes back at its effective weight', async () => {
    const { director, weights, set, w1 } = await setup();
    await director.drain('web', '198.51.100.11:8080');
    set(w1, 'up', 8);
    await nextTurn();
    expect(await weights()).toEqual(['198.51.100.11=0', '198.51.100.12=11', '198.51.100.13=1']);
    await director.undrain('web', '198.51.100.11:8080');
    expect(await weights()).toEqual(['198.51.100.11=13', '198.51.100.12=11', '198.51.100.13=1']);
  });

  it('a restart keeps the weights it finds until each file check has read its file: no flap to the configured weight', async () => {
    const first = await setup();
    first.set(first.w1, 'up', 20);
    first.set(first.w2, 'up', -2);
    await nextTurn();
    expect(await first.weights()).toEqual(['198.51.100.11=25', '198.51.100.12=21', '198.51.100.13=1']);
    await first.director.stop({ removeServices: false });

    // A new daemon on the same kernel; its checks have not answered yet.
    const m = fakeMonitor();
    const director = createDirector(load(CONFIG), {
      backend: () => first.kernel,
      monitor: m.monitor,
      metrics: noopMetrics,
      logger: createLogger({ level: 'silent' }),
    });
    const before = first.kernel.history().length;
    await director.start();
    expect(await first.weights()).toEqual(['198.51.100.11=25', '198.51.100.12=21', '198.51.100.13=1']);
    // w1 has read its file (value unchanged) but w2 has not: rs2 still holds its kernel weight.
    m.set(first.w1, 'up', 20);
    await nextTurn();
    expect(first.opsSince(before)).toEqual([]);
    // Both have read (w2's file now says 0: its delta stays 0, no change event): the files'
    // numbers decide, and only a change is an edit.
    m.read(first.w2);
    await nextTurn();
    expect(await first.weights()).toEqual(['198.51.100.11=25', '198.51.100.12=23', '198.51.100.13=1']);
    expect(first.opsSince(before)).toEqual(['edit-destination']);
  });
});
