import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { decide, drainKey, type Health, nextQuorum } from '../../../src/director/desired-state.js';

function config(extra = ''): Config {
  const { config, issues } = parseConfig(
    `virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
    scheduler: wrr
    quorum: 4
    hysteresis: 1
${extra}
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: 3 }
      - { address: 198.51.100.12, port: 8080, weight: 2 }
      - { address: 198.51.100.13, port: 8080, weight: 1 }
`,
    'test.yaml',
  );
  expect(issues).toEqual([]);
  return config as Config;
}

const down =
  (...addresses: string[]) =>
  (_vs: unknown, rs: { address: string }): Health =>
    addresses.includes(rs.address) ? 'down' : 'up';

const weights = (
  c: Config,
  health = down(),
  drained = new Set<string>(),
  quorumMet = new Map<string, boolean>(),
) =>
  decide({ virtualServers: c.virtualServers, health, drained, quorumMet }).services[0]?.destinations.map(
    (d) => `${d.address}:${d.weight}`,
  );

describe('decide', () => {
  it('all up: every real server at its configured weight', () => {
    expect(weights(config())).toEqual(['198.51.100.11:3', '198.51.100.12:2', '198.51.100.13:1']);
  });

  it('a down real server is removed', () => {
    expect(weights(config(), down('198.51.100.12'))).toEqual(['198.51.100.11:3', '198.51.100.13:1']);
  });

  it('with inhibit_on_failure a down real server stays with weight 0', () => {
    expect(weights(config('    inhibit_on_failure: true'), down('198.51.100.12'))).toEqual([
      '198.51.100.11:3',
      '198.51.100.12:0',
      '198.51.100.13:1',
    ]);
  });

  it('a drained real server stays with weight 0 and does not count toward quorum', () => {
    const c = config();
    const d = decide({
      virtualServers: c.virtualServers,
      health: down(),
      drained: new Set([drainKey('web', { address: '198.51.100.11', port: 8080 })]),
      quorumMet: new Map(),
    });
    expect(d.services[0]?.destinations.map((x) => x.weight)).toEqual([0, 2, 1]);
    expect(d.virtualServers[0]).toMatchObject({ liveWeight: 3, quorumMet: false });
  });

  it('quorum lost: the sorry server replaces the real servers; regained: they come back', () => {
    const c = config('    sorry_server: { address: 198.51.100.99, port: 80 }');
    // live 3 (one down) still holds quorum 4 with hysteresis 1 (3 >= 4 - 1)
    const lost = decide({
      virtualServers: c.virtualServers,
      health: down('198.51.100.11'),
      drained: new Set(),
      quorumMet: new Map([['web', true]]),
    });
    expect(lost.virtualServers[0]?.quorumMet).toBe(true);
    const lost2 = decide({
      virtualServers: c.virtualServers,
      health: down('198.51.100.11', '198.51.100.13'),
      drained: new Set(),
      quorumMet: lost.quorumMet,
    });
    expect(lost2.virtualServers[0]).toMatchObject({
      liveWeight: 2,
      quorumMet: false,
      sorryServerActive: true,
    });
    expect(lost2.services[0]?.destinations).toEqual([
      {
        address: '198.51.100.99',
        port: 80,
        forwarding: 'nat',
        weight: 1,
        upperThreshold: 0,
        lowerThreshold: 0,
      },
    ]);
    // live 4 is not enough to regain (needs quorum + hysteresis = 5)
    const still = decide({
      virtualServers: c.virtualServers,
      health: down('198.51.100.12'),
      drained: new Set(),
      quorumMet: lost2.quorumMet,
    });
    expect(still.virtualServers[0]?.sorryServerActive).toBe(true);
    const back = decide({
      virtualServers: c.virtualServers,
      health: down(),
      drained: new Set(),
      quorumMet: still.quorumMet,
    });
    expect(back.virtualServers[0]).toMatchObject({
      liveWeight: 6,
      quorumMet: true,
      sorryServerActive: false,
    });
    expect(back.services[0]?.destinations).toHaveLength(3);
  });

  it('every virtual service stays in the table, even with no live real server and no sorry server', () => {
    const d = decide({
      virtualServers: config().virtualServers,
      health: () => 'down',
      drained: new Set(),
      quorumMet: new Map(),
    });
    expect(d.services).toHaveLength(1);
    expect(d.services[0]?.destinations).toEqual([]);
  });
});

describe('nextQuorum', () => {
  it.each([
    [undefined, 4, 4, 1, true],
    [undefined, 3, 4, 1, false],
    [true, 3, 4, 1, true],
    [true, 2, 4, 1, false],
    [false, 4, 4, 1, false],
    [false, 5, 4, 1, true],
    [true, 0, 0, 0, true],
  ] as const)('previous %s, live %i, quorum %i, hysteresis %i → %s', (prev, live, q, h, expected) => {
    expect(nextQuorum(prev, live, q, h)).toBe(expected);
  });
});

describe('decide: the same outcome gives back the same service object', () => {
  const run = (c: Config, health = down(), drained = new Set<string>()) =>
    decide({ virtualServers: c.virtualServers, health, drained, quorumMet: new Map() }).services[0];

  it('repeats the object while nothing changes, makes a new one when something does', () => {
    const c = config();
    const first = run(c);
    expect(run(c)).toBe(first);
    const oneDown = run(c, down('198.51.100.13'));
    expect(oneDown).not.toBe(first);
    expect(oneDown?.destinations.map((d) => d.address)).toEqual(['198.51.100.11', '198.51.100.12']);
    expect(run(c, down('198.51.100.13'))).toBe(oneDown);
    // A drain changes the outcome too (weight 0), even with the same health.
    const drained = run(c, down(), new Set([drainKey('web', { address: '198.51.100.11', port: 8080 })]));
    expect(drained).not.toBe(first);
    expect(drained?.destinations[0]?.weight).toBe(0);
    // Back to all up: equal to the first, whatever its identity.
    expect(run(c)).toEqual(first);
  });

  it('a new config object (a reload) never reuses an old decision', () => {
    const before = run(config());
    expect(run(config())).not.toBe(before);
    expect(run(config())).toEqual(before);
  });
});
