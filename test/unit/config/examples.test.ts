import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { formatConfigIssue } from '../../../src/errors.js';

const dir = new URL('../../../config/', import.meta.url).pathname;
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const text = (name: string) => readFileSync(join(dir, name), 'utf8');

function load(name: string, source = text(name)): Config {
  const { config, issues } = parseConfig(source, name, { hostname: 'test' });
  if (config === null) throw new Error(issues.map(formatConfigIssue).join('\n'));
  return config;
}

/** Every IPv4 literal in the text (comments included) is in an RFC 5737 documentation range. */
function nonDocumentationAddresses(source: string): string[] {
  const found = source.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) ?? [];
  const allowed =
    /^(192\.0\.2|198\.51\.100|203\.0\.113)\.|^(224\.0\.0\.(18|81)|127\.0\.0\.1|255\.255\.255\.255)$/;
  return found.filter((a) => !allowed.test(a));
}

describe('the example configs in config/', () => {
  it('include the common topologies', () =>
    expect(examples).toEqual(
      expect.arrayContaining([
        'nat-director-pair-a.yaml',
        'nat-director-pair-b.yaml',
        'single-director.yaml',
        'vrrp-only-nginx-pair.yaml',
      ]),
    ));

  it.each(
    examples,
  )('%s validates, names its schema for editors, and uses documentation addresses only', (name) => {
    const source = text(name);
    expect(parseConfig(source, name).issues).toEqual([]);
    expect(source.split('\n')[0]).toBe('# yaml-language-server: $schema=./ipvsd.schema.json');
    expect(nonDocumentationAddresses(source)).toEqual([]);
  });
});

describe('the NAT director pair (nat-director-pair-a.yaml, -b.yaml)', () => {
  const a = load('nat-director-pair-a.yaml');
  const b = load('nat-director-pair-b.yaml');

  it('has a sync group of a client-side and a server-side VIP instance, on different links', () => {
    for (const c of [a, b]) {
      expect(c.vrrpSyncGroups).toHaveLength(1);
      const group = c.vrrpSyncGroups[0];
      const members = c.vrrpInstances.filter((i) => group?.instances.includes(i.name));
      expect(members).toHaveLength(2);
      const vips = members.flatMap((i) => i.virtualIpaddresses.map((v) => v.address));
      const service = c.virtualServers[0]?.key;
      // The client-side VIP is the web service's address; the server-side one is the real servers' network.
      expect(vips).toContain(service?.fwmark === null ? service.address : undefined);
      expect(vips.some((v) => v.startsWith('198.51.100.'))).toBe(true);
      expect(new Set(members.map((i) => i.interface)).size).toBe(2);
      expect(new Set(members.map((i) => i.virtualRouterId)).size).toBe(2);
    }
  });

  it('runs the connection-sync daemon following the group, on the server-side link', () => {
    for (const c of [a, b]) {
      const server = c.vrrpInstances.find((i) => i.virtualIpaddresses[0]?.address.startsWith('198.51.100.'));
      expect(c.director.syncDaemon?.follow).toBe(c.vrrpSyncGroups[0]?.name);
      expect(c.director.syncDaemon?.interface).toBe(server?.interface);
    }
  });

  it('balances a web service over NAT with HTTP checks on every real server', () => {
    const web = a.virtualServers.find((vs) => vs.name === 'web');
    expect(web?.forwarding).toBe('nat');
    expect(web?.realServers.length).toBeGreaterThanOrEqual(2);
    for (const rs of web?.realServers ?? []) {
      expect(rs.forwarding).toBe('nat');
      expect(rs.check.type).toBe('http');
      expect(rs.address.startsWith('198.51.100.')).toBe(true);
    }
  });

  it('A is the preferred master; the files differ only in router id, state and priority', () => {
    for (const i of a.vrrpInstances) expect(i.state).toBe('master');
    for (const i of b.vrrpInstances) expect(i.state).toBe('backup');
    for (const [ia, ib] of a.vrrpInstances.map((i, n) => [i, b.vrrpInstances[n]] as const)) {
      expect(ia.priority).toBeGreaterThan(ib?.priority ?? 255);
      expect(ia.virtualRouterId).toBe(ib?.virtualRouterId);
    }
    expect(a.director.routerId).not.toBe(b.director.routerId);
    const strip = (c: Config) =>
      JSON.parse(
        JSON.stringify({
          ...c,
          file: '',
          director: { ...c.director, routerId: '' },
          vrrpInstances: c.vrrpInstances.map((i) => ({ ...i, state: '', priority: 0 })),
        }),
      );
    expect(strip(a)).toEqual(strip(b));
  });
});

describe('the single director (single-director.yaml)', () => {
  const c = load('single-director.yaml');

  it('has no VRRP and NAT services with the real servers on the server-side network', () => {
    expect(c.vrrpInstances).toEqual([]);
    expect(c.director.syncDaemon).toBeNull();
    expect(c.director.ipForward).toBe(true);
    for (const vs of c.virtualServers) {
      expect(vs.forwarding).toBe('nat');
      for (const rs of vs.realServers) expect(rs.address.startsWith('198.51.100.')).toBe(true);
    }
  });

  it('checks the web service over HTTP and leaves the UDP service unchecked, as its comments say', () => {
    const web = c.virtualServers.find((vs) => vs.name === 'web');
    const dns = c.virtualServers.find((vs) => vs.name === 'dns');
    expect(web?.realServers.map((rs) => rs.check.type)).toEqual(['http', 'http', 'http']);
    expect(web?.realServers.map((rs) => rs.weight)).toEqual([3, 2, 1]);
    expect(web?.persistence?.timeoutS).toBe(300);
    expect(dns?.realServers.map((rs) => rs.check.type)).toEqual(['none', 'none']);
  });
});

describe('the VRRP-only nginx pair (vrrp-only-nginx-pair.yaml)', () => {
  const source = text('vrrp-only-nginx-pair.yaml');
  const web1 = load('vrrp-only-nginx-pair.yaml');
  // The peer, made the way the file's comments say.
  const web2 = load(
    'web2.yaml',
    source
      .replace('router_id: web1', 'router_id: web2')
      .replace('state: master ', 'state: backup ')
      .replace('priority: 110 ', 'priority: 100 '),
  );

  it('holds a VIP with VRRP and touches no IPVS', () => {
    expect(web1.virtualServers).toEqual([]);
    expect(web1.director.ipForward).toBe(false);
    expect(web1.vrrpInstances).toHaveLength(1);
    expect(web1.vrrpInstances[0]?.virtualIpaddresses).toHaveLength(1);
  });

  it('tracks nginx with a script run without a shell', () => {
    const instance = web1.vrrpInstances[0];
    const script = web1.vrrpScripts.find((s) => instance?.trackScripts.includes(s.name));
    expect(script?.argv[0]).toMatch(/^\//);
    expect(script?.argv).toContain('nginx');
  });

  it('fails over when nginx fails: the tracked weight drops web1 below web2, and only then', () => {
    const i1 = web1.vrrpInstances[0];
    const i2 = web2.vrrpInstances[0];
    const weight = web1.vrrpScripts[0]?.weight ?? 0;
    expect(i2?.state).toBe('backup');
    expect(i1?.priority).toBeGreaterThan(i2?.priority ?? 255);
    expect((i1?.priority ?? 0) + weight).toBeLessThan(i2?.priority ?? 0);
  });
});

describe('the three ECMP directors (ecmp-director-1/2/3.yaml)', () => {
  const configs = [1, 2, 3].map((i) => load(`ecmp-director-${i}.yaml`));

  it('announce every virtual server; each director full-NATs from its own server-side address', () => {
    for (const c of configs) for (const vs of c.virtualServers) expect(vs.announce).toBe(true);
    const sources = configs.map((c) => c.virtualServers.find((vs) => vs.name === 'web')?.fullNat);
    expect(sources).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  });

  it('differ only in router id and full_nat, so the DR+mh service builds the same Maglev table everywhere', () => {
    const api = configs[0]?.virtualServers.find((vs) => vs.name === 'api');
    expect(api?.scheduler).toBe('mh');
    expect(api?.forwarding).toBe('dr');
    const strip = (c: Config) =>
      JSON.parse(
        JSON.stringify({
          ...c,
          file: '',
          director: { ...c.director, routerId: '' },
          virtualServers: c.virtualServers.map((vs) => ({ ...vs, fullNat: null })),
        }),
      );
    expect(strip(configs[1] as Config)).toEqual(strip(configs[0] as Config));
    expect(strip(configs[2] as Config)).toEqual(strip(configs[0] as Config));
  });
});
