/**
 * Issue 16's LVS features in the director, against the in-memory kernel: a group's members are
 * services with the same real servers and one check per real server, several checks must all pass
 * (keepalived's ipwrapper.c update_svr_checker_state: a real server is up only while
 * num_failed_checkers is 0), inhibit_on_failure per real server, and the notify scripts.
 */
import { describe, expect, it } from 'vitest';
import type { HealthMonitor, TargetStatus } from '../../../src/check/monitor.js';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDirector } from '../../../src/director/director.js';
import type { LvsNotifyEvent } from '../../../src/director/lvs-notify.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { noopMetrics } from '../../../src/metrics/types.js';
import { serviceKeyString } from '../../../src/model/ipvs.js';
import { createLogger } from '../../../src/sys/logger.js';

function load(text: string): Config {
  const { config, issues } = parseConfig(text, 'test.yaml');
  expect(issues).toEqual([]);
  return config as Config;
}

function fakeMonitor() {
  const health = new Map<string, TargetStatus>();
  const listeners: ((id: string, s: TargetStatus) => void)[] = [];
  const targets: string[][] = [];
  const monitor: HealthMonitor = {
    update: (list) => {
      targets.push(list.map((t) => t.id));
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
      lastResult: { ok: up, latencyMs: 1, reason: up ? 'ok' : 'failed' },
      lastCheckedAt: 0,
    };
    health.set(id, status);
    for (const l of listeners) l(id, status);
  };
  return { monitor, set, targets };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function setup(text: string) {
  const kernel = createMemoryBackend();
  const m = fakeMonitor();
  const notified: { argv: readonly string[]; event: LvsNotifyEvent }[] = [];
  const director = createDirector(load(text), {
    backend: () => kernel,
    monitor: m.monitor,
    metrics: noopMetrics,
    logger: createLogger({ level: 'silent' }),
    runNotify: (argv, event) => notified.push({ argv, event }),
  });
  await director.start();
  const settle = async () => {
    await nextTurn();
    await director.resync();
  };
  const table = async () =>
    Object.fromEntries(
      (await kernel.dump()).map((s) => [
        serviceKeyString(s.key),
        s.destinations.map((d) => `${d.address}:${d.port}=${d.weight}`).sort(),
      ]),
    );
  return { kernel, director, notified, settle, table, ...m };
}

const GROUP = `virtual_server_groups:
  web:
    - { address: 192.0.2.1-2, port: 80 }
    - { address: 192.0.2.9, port: 8080 }
    - { fwmark: 7 }
virtual_servers:
  - group: web
    scheduler: rr
    quorum: 2
    quorum_up: [/bin/q, up]
    quorum_down: [/bin/q, down]
    real_servers:
      - address: 198.51.100.11
        port: 80
        notify_up: [/bin/n, up]
        notify_down: /bin/n
        checks:
          - { type: tcp }
          - { type: http, urls: [{ path: /a }, { path: /b }] }
      - { address: 198.51.100.12, port: 80, inhibit_on_failure: true }
`;

describe('a virtual server of a group', () => {
  it('puts the same real servers behind every member, a range expanded, fwmark included', async () => {
    const { table } = await setup(GROUP);
    const both = ['198.51.100.11:80=1', '198.51.100.12:80=1'];
    expect(await table()).toEqual({
      'tcp/192.0.2.1:80': both,
      'tcp/192.0.2.2:80': both,
      'tcp/192.0.2.9:8080': both,
      'fwmark/7': both,
    });
  });

  it('checks each real server once for all members (one target per check, not per member)', async () => {
    const { targets } = await setup(GROUP);
    // 198.51.100.11: tcp + http /a + http /b; 198.51.100.12: tcp.
    expect(targets[0]).toHaveLength(4);
    expect(targets[0]?.filter((id) => id.startsWith('http/198.51.100.11:80/'))).toHaveLength(2);
  });

  it('shows its members in status', async () => {
    const { director } = await setup(GROUP);
    const [vs] = (await director.status(0)).virtual_servers;
    expect(vs?.name).toBe('group/web/tcp');
    expect(vs?.group).toBe('web');
    expect(vs?.members?.map((m) => [m.protocol, m.address, m.port, m.fwmark, m.in_kernel])).toEqual([
      ['tcp', '192.0.2.1', 80, null, true],
      ['tcp', '192.0.2.2', 80, null, true],
      ['tcp', '192.0.2.9', 8080, null, true],
      [null, null, null, 7, true],
    ]);
  });
});

describe('several checks on one real server', () => {
  it('take it out when one fails (one url of three checks), and put it back only when all pass', async () => {
    const { targets, set, settle, table } = await setup(GROUP);
    const b = targets[0]?.find((id) => id.includes('/b#')) as string;
    set(b, false);
    await settle();
    expect((await table())['tcp/192.0.2.1:80']).toEqual(['198.51.100.12:80=1']);
    const tcp = targets[0]?.find((id) => id.startsWith('tcp/198.51.100.11')) as string;
    set(tcp, false);
    set(b, true);
    await settle();
    expect((await table())['fwmark/7']).toEqual(['198.51.100.12:80=1']);
    set(tcp, true);
    await settle();
    expect((await table())['fwmark/7']).toEqual(['198.51.100.11:80=1', '198.51.100.12:80=1']);
  });

  it('runs notify_down once when the first check fails, notify_up once when the last recovers', async () => {
    const { targets, set, settle, notified } = await setup(GROUP);
    const ids = targets[0]?.filter((id) => id.includes('198.51.100.11')) as string[];
    for (const id of ids) set(id, false);
    await settle();
    for (const id of ids) set(id, true);
    await settle();
    expect(notified.filter((n) => n.event.realServer !== undefined)).toEqual([
      {
        argv: ['/bin/n'],
        event: { event: 'notify_down', virtualServer: 'group/web/tcp', realServer: '198.51.100.11:80' },
      },
      {
        argv: ['/bin/n', 'up'],
        event: { event: 'notify_up', virtualServer: 'group/web/tcp', realServer: '198.51.100.11:80' },
      },
    ]);
  });
});

describe('inhibit_on_failure per real server and quorum scripts', () => {
  it('keeps the inhibited real server at weight 0 and removes the other; quorum_down then quorum_up', async () => {
    const { targets, set, settle, table, notified } = await setup(GROUP);
    for (const id of targets[0] ?? []) set(id, false);
    await settle();
    expect((await table())['tcp/192.0.2.9:8080']).toEqual(['198.51.100.12:80=0']);
    for (const id of targets[0] ?? []) set(id, true);
    await settle();
    // keepalived runs the quorum scripts with no arguments added (ipwrapper.c do_vs_notifies).
    expect(notified.filter((n) => n.event.realServer === undefined)).toEqual([
      { argv: ['/bin/q', 'down'], event: { event: 'quorum_down', virtualServer: 'group/web/tcp' } },
      { argv: ['/bin/q', 'up'], event: { event: 'quorum_up', virtualServer: 'group/web/tcp' } },
    ]);
  });

  it('runs quorum_down at start when quorum is not met then, and nothing when it is (keepalived starts with quorum up)', async () => {
    const { notified } = await setup(
      GROUP.replace('quorum: 2', 'quorum: 3').replace(
        '- { address: 198.51.100.12, port: 80, inhibit_on_failure: true }',
        '- { address: 198.51.100.12, port: 80, weight: 1 }',
      ),
    );
    expect(notified.map((n) => n.event.event)).toEqual(['quorum_down']);
    const quiet = await setup(GROUP);
    expect(quiet.notified).toEqual([]);
  });
});

describe('port 0 and port-less real servers', () => {
  it('programs an all-ports persistent service and a fwmark service whose real servers have no port', async () => {
    const { table, kernel } = await setup(`virtual_servers:
  - address: 192.0.2.50
    port: 0
    persistence: { timeout: 60s }
    check: { type: tcp, connect_port: 22 }
    real_servers: [{ address: 198.51.100.20 }]
  - fwmark: 9
    persistence: { timeout: 60s }
    forwarding: dr
    check: { type: none }
    real_servers: [{ address: 198.51.100.21 }, { address: 198.51.100.22, port: 0 }]
`);
    expect(await table()).toEqual({
      'tcp/192.0.2.50:0': ['198.51.100.20:0=1'],
      'fwmark/9': ['198.51.100.21:0=1', '198.51.100.22:0=1'],
    });
    expect((await kernel.dump())[0]?.persistence).toEqual({ timeoutS: 60, netmask: '255.255.255.255' });
  });
});

describe('a group with dr real servers', () => {
  it("gives each member's destination the member's port, 0 for a fwmark (ipvswrapper.c ipvs_group_cmd)", async () => {
    const { table } = await setup(`virtual_server_groups:
  g: [{ address: 192.0.2.1, port: 80 }, { address: 192.0.2.1, port: 443 }, { fwmark: 4 }]
virtual_servers:
  - group: g
    forwarding: dr
    check: { type: none }
    real_servers: [{ address: 198.51.100.1 }, { address: 198.51.100.2, port: 8080, forwarding: nat }]
`);
    expect(await table()).toEqual({
      'tcp/192.0.2.1:80': ['198.51.100.1:80=1', '198.51.100.2:8080=1'],
      'tcp/192.0.2.1:443': ['198.51.100.1:443=1', '198.51.100.2:8080=1'],
      'fwmark/4': ['198.51.100.1:0=1', '198.51.100.2:8080=1'],
    });
  });
});
