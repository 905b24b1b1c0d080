import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createHealthMonitor, type HealthMonitor, type TargetStatus } from '../../../src/check/monitor.js';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDirector } from '../../../src/director/director.js';
import { createDrainStore, type DrainEntry, type DrainStore } from '../../../src/director/drain-store.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { noopMetrics } from '../../../src/metrics/types.js';
import { createLogger } from '../../../src/sys/logger.js';
import { fakeClock } from '../check/fixtures.js';

function config(weight12 = 2, extra = ''): Config {
  const { config, issues } = parseConfig(
    `virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
    scheduler: wrr
${extra}
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: 3 }
      - { address: 198.51.100.12, port: 8080, weight: ${weight12} }
`,
    'test.yaml',
  );
  expect(issues).toEqual([]);
  return config as Config;
}

/** config() with more virtual servers after the first. */
function withSecond(yaml: string): Config {
  const base = `virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
    scheduler: wrr
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: 3 }
      - { address: 198.51.100.12, port: 8080, weight: 2 }`;
  const { config, issues } = parseConfig(`${base}${yaml}\n`, 'test.yaml');
  expect(issues).toEqual([]);
  return config as Config;
}

/** A monitor whose health the test sets; it remembers what update() was given. */
function fakeMonitor() {
  const health = new Map<string, TargetStatus>();
  const listeners: ((id: string, s: TargetStatus) => void)[] = [];
  const updates: string[][] = [];
  const monitor: HealthMonitor = {
    update: (targets) => {
      updates.push(targets.map((t) => t.id));
    },
    status: (id) => health.get(id),
    snapshot: () => health,
    onChange: (l) => {
      listeners.push(l);
      return () => {};
    },
    onResult: () => () => {},
    stop: async () => {},
  };
  const set = (id: string, up: boolean) => {
    const status: TargetStatus = {
      health: up ? 'up' : 'down',
      consecutiveOk: up ? 1 : 0,
      consecutiveFail: up ? 0 : 1,
      lastResult: { ok: up, latencyMs: 1, reason: up ? 'connected' : 'connection refused (ECONNREFUSED)' },
      lastCheckedAt: 0,
    };
    health.set(id, status);
    for (const l of listeners) l(id, status);
  };
  return { monitor, set, updates };
}

const silent = createLogger({ level: 'silent' });
/** Health changes are decided together once per turn of the event loop. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A drain store in memory: what was saved last, and a switch to make saving fail. */
function memoryDrainStore(saved: DrainEntry[] = []) {
  const state = { saved, saves: 0, failSave: false };
  const store: DrainStore = {
    file: '/state/drains.json',
    load: async () => state.saved,
    save: async (entries) => {
      if (state.failSave) throw new Error('/state/drains.json: cannot save: EROFS: read-only file system');
      state.saves++;
      state.saved = [...entries];
    },
  };
  return { store, state };
}

async function setup(c = config(), drainStore?: DrainStore) {
  const kernel = createMemoryBackend();
  const m = fakeMonitor();
  const director = createDirector(c, {
    backend: () => kernel,
    monitor: m.monitor,
    metrics: noopMetrics,
    logger: silent,
    ...(drainStore && { drainStore }),
  });
  await director.start();
  const weights = async () => (await kernel.dump())[0]?.destinations.map((d) => `${d.address}=${d.weight}`);
  return { kernel, director, weights, ...m };
}

describe('director', () => {
  it('decides a burst of health changes once: one reconcile for both removals', async () => {
    const kernel = createMemoryBackend();
    const m = fakeMonitor();
    const runs: { kind: string; operations: number }[] = [];
    const metrics = { ...noopMetrics, reconciled: (o: { kind: string; operations: number }) => runs.push(o) };
    const director = createDirector(config(), {
      backend: () => kernel,
      monitor: m.monitor,
      metrics,
      logger: silent,
    });
    await director.start();
    for (const id of m.updates[0] ?? []) m.set(id, false);
    await nextTurn();
    await director.resync(); // waits for the event run queued before it
    expect(runs.filter((r) => r.kind === 'event')).toEqual([
      { kind: 'event', operations: 2, errors: 0, durationMs: expect.any(Number) },
    ]);
  });

  it('records every check result for each real server using the check, also after a reload', async () => {
    const clock = fakeClock();
    const monitor = createHealthMonitor({
      now: clock.now,
      setTimer: clock.setTimer,
      random: () => 0,
      probe: async () => ({ ok: true, latencyMs: 2, reason: 'connected' }),
    });
    const recorded: string[] = [];
    const metrics = {
      ...noopMetrics,
      checkCompleted: (
        l: { virtual_server: string; real_server: string; check: string },
        o: { ok: boolean },
      ) => recorded.push(`${l.virtual_server} ${l.real_server} ${l.check} ${o.ok}`),
    };
    // 198.51.100.11:8080 is in both virtual servers: one target, its results count for both.
    const second = `
  - name: api
    address: 203.0.113.101
    port: 80
    real_servers:
      - { address: 198.51.100.11, port: 8080 }`;
    const director = createDirector(config(2, ''), {
      backend: () => createMemoryBackend(),
      monitor,
      metrics,
      logger: silent,
    });
    await director.start();
    await clock.advance(10);
    expect(recorded.sort()).toEqual(['web 198.51.100.11:8080 tcp true', 'web 198.51.100.12:8080 tcp true']);
    recorded.length = 0;
    await director.reload(withSecond(second));
    // Past the next probe of both targets, whatever the default interval.
    await clock.advance(60_000);
    expect([...new Set(recorded)].sort()).toEqual([
      'api 198.51.100.11:8080 tcp true',
      'web 198.51.100.11:8080 tcp true',
      'web 198.51.100.12:8080 tcp true',
    ]);
    await director.stop({ removeServices: false });
  });

  it('installs the table at start and follows health changes', async () => {
    const { director, weights, set, updates } = await setup();
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=2']);
    const id12 = updates[0]?.[1] as string;
    set(id12, false);
    await nextTurn();
    await director.resync();
    expect(await weights()).toEqual(['198.51.100.11=3']);
    set(id12, true);
    await nextTurn();
    await director.resync();
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=2']);
  });

  it('names the changes of a reconcile run in its log line', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const m = fakeMonitor();
    const director = createDirector(config(), {
      backend: () => createMemoryBackend(),
      monitor: m.monitor,
      metrics: noopMetrics,
      logger: createLogger({ level: 'info', destination }),
    });
    await director.start();
    m.set(m.updates[0]?.[1] as string, false);
    await nextTurn();
    await director.resync();
    const runs = lines
      .map((l) => JSON.parse(l) as { msg: string; kind?: string; changes?: string[] })
      .filter((e) => e.msg === 'ipvs table reconciled');
    expect(runs.map((r) => [r.kind, r.changes])).toEqual([
      [
        'start',
        [
          'add-service tcp/203.0.113.100:80 scheduler=wrr',
          'add-destination tcp/203.0.113.100:80 198.51.100.11:8080 weight=3',
          'add-destination tcp/203.0.113.100:80 198.51.100.12:8080 weight=2',
        ],
      ],
      ['event', ['delete-destination tcp/203.0.113.100:80 198.51.100.12:8080']],
    ]);
  });

  it('drain gives weight 0, survives a reload, undrain restores the weight', async () => {
    const { director, weights } = await setup(config(), memoryDrainStore().store);
    expect(await director.drain('web', '198.51.100.12:8080')).toEqual({
      vs: 'web',
      rs: '198.51.100.12:8080',
      drained: true,
    });
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=0']);
    await director.reload(config(5));
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=0']);
    await director.undrain('tcp/203.0.113.100:80', '198.51.100.12:8080');
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=5']);
  });

  it('saves drains and restores them at the next start, before the first reconcile', async () => {
    const { store, state } = memoryDrainStore();
    const first = await setup(config(), store);
    await first.director.drain('web', '198.51.100.12:8080');
    expect(state.saved).toEqual([{ virtual_server: 'web', real_server: '198.51.100.12:8080' }]);

    // A new daemon: the kernel still has weight 0 and must never see the configured 2 again.
    const second = await setup(config(), store);
    expect(await second.weights()).toEqual(['198.51.100.11=3', '198.51.100.12=0']);
    const status = await second.director.status(0);
    expect(status.virtual_servers[0]?.real_servers.map((r) => r.drained)).toEqual([false, true]);
    await second.director.undrain('web', '198.51.100.12:8080');
    expect(state.saved).toEqual([]);
    expect(await second.weights()).toEqual(['198.51.100.11=3', '198.51.100.12=2']);
  });

  it('drops saved drains of real servers the config no longer has, and saves that', async () => {
    const { store, state } = memoryDrainStore([
      { virtual_server: 'web', real_server: '198.51.100.12:8080' },
      { virtual_server: 'web', real_server: '198.51.100.99:8080' },
      { virtual_server: 'gone', real_server: '198.51.100.11:8080' },
    ]);
    const { weights } = await setup(config(), store);
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=0']);
    expect(state.saved).toEqual([{ virtual_server: 'web', real_server: '198.51.100.12:8080' }]);
  });

  it('a drain that cannot be saved still holds, and says it will not survive a restart', async () => {
    const { store, state } = memoryDrainStore();
    const { director, weights } = await setup(config(), store);
    state.failSave = true;
    const result = await director.drain('web', '198.51.100.12:8080');
    expect(result.drained).toBe(true);
    expect(result.warning).toBe(
      '/state/drains.json: cannot save: EROFS: read-only file system: the drains hold until ipvsd restarts',
    );
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=0']);
    // Without a state directory every drain says it lives in memory only.
    const memoryOnly = await setup(config(), createDrainStore(null));
    expect((await memoryOnly.director.drain('web', '198.51.100.12:8080')).warning).toMatch(
      /^not kept across a restart of ipvsd: it has no state directory/,
    );
  });

  it('starts without drains when the saved file is damaged', async () => {
    const store: DrainStore = {
      file: '/state/drains.json',
      load: async () => {
        throw new Error('/state/drains.json: not JSON (Unexpected end of JSON input)');
      },
      save: async () => undefined,
    };
    const { weights } = await setup(config(), store);
    expect(await weights()).toEqual(['198.51.100.11=3', '198.51.100.12=2']);
  });

  it('names what it cannot find', async () => {
    const { director } = await setup();
    await expect(director.drain('nope', '198.51.100.12:8080')).rejects.toMatchObject({
      code: 'IPVSD_ERR_NOT_FOUND',
      message: 'no virtual server "nope" in the running config',
    });
    await expect(director.drain('web', '198.51.100.99:8080')).rejects.toMatchObject({
      code: 'IPVSD_ERR_NOT_FOUND',
    });
  });

  it('keeps the check identities of unchanged real servers across a reload', async () => {
    const { director, updates } = await setup();
    await director.reload(config(5));
    expect(updates[1]).toEqual(updates[0]);
  });

  it('reports status in the contract shape with kernel weights', async () => {
    const { director, set, updates } = await setup();
    set(updates[0]?.[0] as string, false);
    await nextTurn();
    await director.resync();
    const status = await director.status(0);
    expect(status.virtual_servers[0]).toMatchObject({
      name: 'web',
      protocol: 'tcp',
      address: '203.0.113.100',
      port: 80,
      fwmark: null,
      real_servers: [
        {
          address: '198.51.100.11',
          port: 8080,
          weight: 3,
          kernel_weight: null,
          health: 'down',
          drained: false,
          last_check: { ok: false, reason: 'connection refused (ECONNREFUSED)' },
        },
        { address: '198.51.100.12', port: 8080, weight: 2, kernel_weight: 2, health: 'up', drained: false },
      ],
    });
    expect(status.vrrp).toEqual({ instances: [], sync_groups: [] });
    expect(status.last_reconcile?.errors).toEqual([]);
  });

  it('removes its services on stop only when asked', async () => {
    const { director, kernel } = await setup();
    await director.stop({ removeServices: false });
    expect(await kernel.dump()).toHaveLength(1);
    const second = await setup();
    await second.director.stop({ removeServices: true });
    expect(await second.kernel.dump()).toEqual([]);
  });
});

describe('director and the announcer (issue 15)', () => {
  it('tells the announcer each decision before the kernel table changes, and each reconcile outcome', async () => {
    const memory = createMemoryBackend();
    const events: string[] = [];
    const kernel = {
      ...memory,
      dump: () => memory.dump(),
      apply: async (ops: Parameters<typeof memory.apply>[0]) => {
        events.push(`apply ${ops.map((o) => o.kind).join(',')}`);
        return memory.apply(ops);
      },
    };
    const m = fakeMonitor();
    const director = createDirector(config(), {
      backend: () => kernel,
      monitor: m.monitor,
      metrics: noopMetrics,
      logger: silent,
      announce: {
        decided: async (vs) => {
          // An announcer that takes its time: the table must still wait for it.
          await nextTurn();
          events.push(`decided ${vs.map((d) => `${d.name}:${d.quorumMet}`).join(',')}`);
        },
        reconciled: (problem) => events.push(`reconciled ${problem}`),
      },
    });
    await director.start();
    expect(events).toEqual([
      'decided web:true',
      'apply add-service,add-destination,add-destination',
      'reconciled null',
    ]);
    events.length = 0;
    for (const id of m.updates[0] ?? []) m.set(id, false);
    await nextTurn();
    await nextTurn();
    await director.resync();
    const ordered = events.filter((e) => !e.startsWith('reconciled'));
    expect(ordered[0]).toBe('decided web:false');
    expect(ordered[1]).toMatch(/^apply delete-destination/);
  });
});
