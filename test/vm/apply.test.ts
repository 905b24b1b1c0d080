/**
 * `ipvsctl apply` and `ipvsctl list` against the real kernel IPVS (inside the VM): the table must be
 * exactly what ipvsadm builds from the same description, edits must happen in place, a second apply
 * must plan nothing, drift made with ipvsadm must show up in `list` and be undone by `apply`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createNetnsLab, run, runOk } from '../support/netns.js';
import { IPVSCTL } from '../support/paths.js';
import {
  directorNamespace,
  ipvsadmRestore,
  ipvsadmSave,
  ipvsctl,
  ipvsctlJson,
  normalizedSave,
  writeConfig,
} from './ipvs-lab.js';

const lab = createNetnsLab();
afterAll(() => lab.cleanup());

interface Ops {
  operations: { op: string; service: string; destination?: string }[];
}

const TABLE_YAML = `
virtual_servers:
  - name: web
    address: 203.0.113.10
    port: 80
    scheduler: wrr
    persistence: { timeout: 300s, netmask: 255.255.255.0 }
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: 3 }
      - { address: 198.51.100.12, port: 8080, weight: 1, upper_threshold: 100, lower_threshold: 10 }
  - address: 203.0.113.10
    port: 53
    protocol: udp
    scheduler: sh
    scheduler_flags: [sh-fallback, sh-port]
    real_servers:
      - { address: 198.51.100.11, port: 53 }
  - address: 2001:db8::10
    port: 443
    scheduler: mh
    persistence: { timeout: 60s, netmask: 64 }
    real_servers:
      - { address: "2001:db8:1::11", port: 8443, weight: 2 }
      - { address: "2001:db8:1::12", port: 8443, weight: 0 }
  - fwmark: 7
    scheduler: rr
    persistence: { timeout: 120s }
    real_servers:
      - { address: 198.51.100.13, port: 80 }
  - fwmark: 8
    family: inet6
    scheduler: lc
    real_servers:
      - { address: "2001:db8:1::13", port: 80 }
  - address: 203.0.113.11
    port: 9
    protocol: sctp
    scheduler: lc
    real_servers:
      - { address: 198.51.100.14, port: 9 }
  - address: 203.0.113.12
    port: 80
    scheduler: wlc
    forwarding: dr
    real_servers:
      - { address: 198.51.100.15, port: 80, weight: 5 }
`;

const TABLE_IPVSADM = `
-A -t 203.0.113.10:80 -s wrr -p 300 -M 255.255.255.0
-a -t 203.0.113.10:80 -r 198.51.100.11:8080 -m -w 3
-a -t 203.0.113.10:80 -r 198.51.100.12:8080 -m -w 1 -x 100 -y 10
-A -u 203.0.113.10:53 -s sh -b sh-fallback,sh-port
-a -u 203.0.113.10:53 -r 198.51.100.11:53 -m -w 1
-A -t [2001:db8::10]:443 -s mh -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8:1::11]:8443 -m -w 2
-a -t [2001:db8::10]:443 -r [2001:db8:1::12]:8443 -m -w 0
-A -f 7 -s rr -p 120
-a -f 7 -r 198.51.100.13:80 -m -w 1
-A -f 8 -6 -s lc
-a -f 8 -6 -r [2001:db8:1::13]:80 -m -w 1
-A --sctp-service 203.0.113.11:9 -s lc
-a --sctp-service 203.0.113.11:9 -r 198.51.100.14:9 -m -w 1
-A -t 203.0.113.12:80 -s wlc
-a -t 203.0.113.12:80 -r 198.51.100.15:80 -g -w 5
`;

describe('ipvsctl apply on a real kernel', async () => {
  const ns = await directorNamespace(lab, 'apply');
  const twin = await directorNamespace(lab, 'twin');
  const config = await writeConfig(TABLE_YAML);

  it('builds exactly the table ipvsadm builds (ipvsadm -Sn), IPv6, fwmark, sctp, persistence, flags', async () => {
    const dry = await ipvsctlJson<Ops & { dryRun: boolean }>(lab, ns, ['apply', config, '--dry-run']);
    expect(dry.dryRun).toBe(true);
    expect(dry.operations).toHaveLength(7 + 9);
    expect(await ipvsadmSave(lab, ns)).toBe('');

    const applied = await ipvsctlJson<Ops>(lab, ns, ['apply', config]);
    expect(applied.operations.map((o) => o.op)).toEqual(dry.operations.map((o) => o.op));
    await ipvsadmRestore(lab, twin, TABLE_IPVSADM);
    expect(await ipvsadmSave(lab, ns)).toBe(await ipvsadmSave(lab, twin));
  });

  it('plans zero operations when the kernel already matches', async () => {
    expect(await ipvsctlJson<Ops>(lab, ns, ['apply', config])).toEqual({ operations: [] });
    const text = await ipvsctl(lab, ns, ['apply', config]);
    expect(text.stdout).toBe('no changes: the kernel table already matches\n');
  });

  it('lists the table like ipvsadm -Ln, and as the JSON of the contract', async () => {
    const ours = await ipvsctl(lab, ns, ['list']);
    const theirs = await lab.execOk(ns, 'ipvsadm', ['-Ln']);
    const squash = (s: string) =>
      s
        .trim()
        .split('\n')
        .map((l) => l.trim().replace(/\s+/g, ' '))
        .join('\n');
    expect(squash(ours.stdout)).toBe(squash(theirs));

    const list = await ipvsctlJson<{ services: Record<string, unknown>[] }>(lab, ns, ['list']);
    const web = list.services.find((s) => s.address === '203.0.113.10' && s.port === 80);
    expect(web).toMatchObject({
      protocol: 'tcp',
      fwmark: null,
      scheduler: 'wrr',
      persistence: { timeout: 300, netmask: '255.255.255.0' },
    });
    expect(web?.destinations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          address: '198.51.100.11',
          port: 8080,
          forwarding: 'nat',
          weight: 3,
          activeConns: 0,
          inactiveConns: 0,
        }),
        expect.objectContaining({
          address: '198.51.100.12',
          port: 8080,
          forwarding: 'nat',
          weight: 1,
          activeConns: 0,
          inactiveConns: 0,
        }),
      ]),
    );
    const fwm = list.services.find((s) => s.fwmark === 7);
    expect(fwm).toMatchObject({ protocol: null, address: null, port: null, persistence: { timeout: 120 } });
    const v6 = list.services.find((s) => s.address === '2001:db8::10');
    expect(v6).toMatchObject({ persistence: { timeout: 60, netmask: '64' }, scheduler: 'mh' });
    const stats = await ipvsctlJson<{ services: { stats: { conns: number } }[] }>(lab, ns, [
      'list',
      '--stats',
    ]);
    expect(stats.services[0]?.stats.conns).toBe(0);
  });

  it('edits scheduler, persistence, weight and thresholds in place (no delete, no re-add)', async () => {
    const edited = await writeConfig(
      TABLE_YAML.replace(
        'scheduler: wrr\n    persistence: { timeout: 300s',
        'scheduler: wlc\n    persistence: { timeout: 600s',
      )
        .replace('port: 8080, weight: 3', 'port: 8080, weight: 7')
        .replace('upper_threshold: 100, lower_threshold: 10', 'upper_threshold: 50, lower_threshold: 5'),
    );
    const ops = await ipvsctlJson<Ops>(lab, ns, ['apply', edited]);
    expect(ops.operations).toEqual([
      expect.objectContaining({ op: 'edit-service', service: 'tcp/203.0.113.10:80' }),
      expect.objectContaining({ op: 'edit-destination', destination: '198.51.100.11:8080', weight: 7 }),
      expect.objectContaining({
        op: 'edit-destination',
        destination: '198.51.100.12:8080',
        upperThreshold: 50,
      }),
    ]);
    await lab.execOk(twin, 'ipvsadm', [
      '-E',
      '-t',
      '203.0.113.10:80',
      '-s',
      'wlc',
      '-p',
      '600',
      '-M',
      '255.255.255.0',
    ]);
    await lab.execOk(twin, 'ipvsadm', [
      '-e',
      '-t',
      '203.0.113.10:80',
      '-r',
      '198.51.100.11:8080',
      '-m',
      '-w',
      '7',
    ]);
    await lab.execOk(twin, 'ipvsadm', [
      '-e',
      '-t',
      '203.0.113.10:80',
      '-r',
      '198.51.100.12:8080',
      '-m',
      '-w',
      '1',
      '-x',
      '50',
      '-y',
      '5',
    ]);
    expect(await ipvsadmSave(lab, ns)).toBe(await ipvsadmSave(lab, twin));
    // back to the original table for the next cases
    expect((await ipvsctlJson<Ops>(lab, ns, ['apply', config])).operations).toHaveLength(3);
    await lab.execOk(twin, 'ipvsadm', ['-C']);
    await ipvsadmRestore(lab, twin, TABLE_IPVSADM);
  });

  it('shows drift made with ipvsadm in list --json and undoes it with apply', async () => {
    await lab.execOk(ns, 'ipvsadm', [
      '-e',
      '-t',
      '203.0.113.10:80',
      '-r',
      '198.51.100.11:8080',
      '-m',
      '-w',
      '9',
    ]);
    await lab.execOk(ns, 'ipvsadm', ['-a', '-t', '203.0.113.10:80', '-r', '198.51.100.99:8080', '-m']);
    await lab.execOk(ns, 'ipvsadm', ['-D', '--sctp-service', '203.0.113.11:9']);
    await lab.execOk(ns, 'ipvsadm', ['-A', '-t', '203.0.113.50:25', '-s', 'rr']);

    const list = await ipvsctlJson<{
      services: { address: string; port: number; destinations: { address: string; weight: number }[] }[];
    }>(lab, ns, ['list']);
    const web = list.services.find((s) => s.address === '203.0.113.10' && s.port === 80);
    expect(web?.destinations.find((d) => d.address === '198.51.100.11')?.weight).toBe(9);
    expect(web?.destinations.map((d) => d.address)).toContain('198.51.100.99');
    expect(list.services.find((s) => s.address === '203.0.113.11')).toBeUndefined();
    expect(list.services.find((s) => s.address === '203.0.113.50')).toBeDefined();

    const ops = await ipvsctlJson<Ops>(lab, ns, ['apply', config]);
    expect(ops.operations.map((o) => `${o.op} ${o.service} ${o.destination ?? ''}`.trim()).sort()).toEqual(
      [
        'add-destination sctp/203.0.113.11:9 198.51.100.14:9',
        'add-service sctp/203.0.113.11:9',
        'delete-destination tcp/203.0.113.10:80 198.51.100.99:8080',
        'delete-service tcp/203.0.113.50:25',
        'edit-destination tcp/203.0.113.10:80 198.51.100.11:8080',
      ].sort(),
    );
    expect(normalizedSave(await ipvsadmSave(lab, ns))).toBe(normalizedSave(await ipvsadmSave(lab, twin)));
  });

  it('leaves services it does not manage alone with unmanaged: keep', async () => {
    await lab.execOk(ns, 'ipvsadm', ['-A', '-t', '203.0.113.60:25', '-s', 'rr']);
    const keep = await writeConfig(`director:\n  ipvs: { unmanaged: keep }\n${TABLE_YAML}`);
    expect(await ipvsctlJson<Ops>(lab, ns, ['apply', keep])).toEqual({ operations: [] });
    expect(await ipvsadmSave(lab, ns)).toContain('-A -t 203.0.113.60:25 -s rr');
    const removed = await ipvsctlJson<Ops>(lab, ns, ['apply', config]);
    expect(removed.operations).toEqual([{ op: 'delete-service', service: 'tcp/203.0.113.60:25' }]);
  });

  it('sets the IPVS timeouts from director.ipvs.timeouts only when they differ', async () => {
    const timed = await writeConfig(
      `director:\n  ipvs: { timeouts: { tcp: 1000s, tcp_fin: 60s, udp: 30s } }\n${TABLE_YAML}`,
    );
    const ops = await ipvsctlJson<Ops>(lab, ns, ['apply', timed]);
    expect(ops.operations).toEqual([{ op: 'set-timeouts', tcp: 1000, tcpFin: 60, udp: 30 }]);
    expect(await lab.execOk(ns, 'ipvsadm', ['-L', '--timeout'])).toContain('1000 60 30');
    expect(await ipvsctlJson<Ops>(lab, ns, ['apply', timed])).toEqual({ operations: [] });
  });
});

describe('a larger table', async () => {
  // 80 services × 6 destinations: enough destination dumps in a row to catch a dump colliding
  // with another on the same netlink socket (EBUSY), which a handful of services never shows.
  it('applies, lists and re-applies with zero operations', async () => {
    const ns = await directorNamespace(lab, 'large');
    const services = Array.from({ length: 80 }, (_, i) => {
      const dests = Array.from(
        { length: 6 },
        (_, j) => `      - { address: 198.51.100.${10 + j}, port: ${8000 + i}, weight: ${1 + j} }`,
      );
      return `  - { address: 203.0.113.${1 + (i % 40)}, port: ${80 + Math.floor(i / 40)}, scheduler: wrr, real_servers: [] }`.replace(
        'real_servers: [] }',
        `real_servers: [ ${dests.map((d) => d.trim().replace(/^- /, '')).join(', ')} ] }`,
      );
    });
    const config = await writeConfig(`virtual_servers:\n${services.join('\n')}\n`);
    const first = await ipvsctlJson<Ops>(lab, ns, ['apply', config]);
    expect(first.operations).toHaveLength(80 * 7);
    const list = await ipvsctlJson<{ services: { destinations: unknown[] }[] }>(lab, ns, ['list']);
    expect(list.services).toHaveLength(80);
    expect(list.services.every((s) => s.destinations.length === 6)).toBe(true);
    expect(await ipvsctlJson<Ops>(lab, ns, ['apply', config])).toEqual({ operations: [] });
  });
});

describe('kernel errors become messages a person can act on', async () => {
  it('names the unroutable NAT destination', async () => {
    // A namespace with no routing table at all (not even lo up): the kernel cannot classify the
    // destination address and refuses it with EINVAL, the case a director without routes meets.
    const ns = `ipvsd-t-${process.pid}-noroute`;
    await runOk('ip', ['netns', 'add', ns]);
    try {
      const config = await writeConfig(
        'virtual_servers:\n  - { address: 203.0.113.20, port: 80, real_servers: [{ address: 198.51.100.21, port: 80 }] }\n',
      );
      const r = await run('ip', ['netns', 'exec', ns, process.execPath, IPVSCTL, 'apply', config]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('add-destination 198.51.100.21:80 in tcp/203.0.113.20:80');
      expect(r.stderr).toContain('no route to 198.51.100.21');
      expect(r.stdout).toContain('1 of 2 operations applied');
    } finally {
      await runOk('ip', ['netns', 'del', ns]);
    }
  });

  it('says CAP_NET_ADMIN is needed when it is missing', async () => {
    const ns = await directorNamespace(lab, 'nocap');
    const r = await lab.exec(ns, 'setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      process.execPath,
      'dist/src/bin/ipvsctl.js',
      'list',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CAP_NET_ADMIN');
    expect(r.stderr).toContain('EPERM');
  });

  it('names the scheduler module that is missing', async () => {
    const ns = await directorNamespace(lab, 'nosched');
    // Debian's 6.1 kernel has no ip_vs_twos (added in 6.x later), and nothing can be autoloaded in the guest.
    const config = await writeConfig(
      'virtual_servers:\n  - { address: 203.0.113.30, port: 80, scheduler: twos, real_servers: [] }\n',
    );
    const r = await ipvsctl(lab, ns, ['apply', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('scheduler "twos" is not available');
    expect(r.stderr).toContain('modprobe ip_vs_twos');
  });
});
