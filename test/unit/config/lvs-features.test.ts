/**
 * The config language of issue 16's LVS features: virtual_server_groups (keepalived's
 * virtual_server_group, ranges as check_data.c alloc_vsg_entry reads them), `checks` and `urls`
 * (all must pass), per-real-server inhibit_on_failure and notify scripts, quorum scripts, port 0.
 */
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../src/config/validate-groups.js';
import { serviceKeyString } from '../../../src/model/ipvs.js';
import { configOf, issuesOf, yaml } from './helpers.js';

describe('virtual_server_groups', () => {
  it('expands ranges (last byte, last 16 bits in hex, full end) and fwmarks into the members', () => {
    const c = configOf(
      yaml(
        'virtual_server_groups:',
        '  g4:',
        '    - { address: 192.0.2.254-255, port: 80 }',
        '    - { address: 192.0.2.10-192.0.2.11, port: 443 }',
        '    - { fwmark: 3 }',
        '  g6:',
        '    - { address: "2001:db8::9-b", port: 53 }',
        'virtual_servers:',
        '  - { group: g4, persistence: { timeout: 10s }, real_servers: [{ address: 198.51.100.1, port: 80 }] }',
        '  - { group: g6, protocol: udp, real_servers: [{ address: "2001:db8:1::1", port: 53 }] }',
      ),
    );
    const [g4, g6] = c.virtualServers;
    expect(g4?.members.map(serviceKeyString)).toEqual([
      'tcp/192.0.2.254:80',
      'tcp/192.0.2.255:80',
      'tcp/192.0.2.10:443',
      'tcp/192.0.2.11:443',
      'fwmark/3',
    ]);
    expect(g4?.key).toEqual(g4?.members[0]);
    expect(g4?.name).toBe('group/g4/tcp');
    expect(g6?.members.map(serviceKeyString)).toEqual([
      'udp/[2001:db8::9]:53',
      'udp/[2001:db8::a]:53',
      'udp/[2001:db8::b]:53',
    ]);
    // A group's real servers take no port from a service (each member has its own).
    expect(g6?.realServers[0]?.port).toBe(53);
  });

  it('parses ranges as keepalived does and refuses what it refuses', () => {
    expect(parseRange('192.0.2.1-10')).toEqual({ first: '192.0.2.1', last: '192.0.2.10', family: 'inet' });
    expect(parseRange('2001:db8::1-ff')?.last).toBe('2001:db8::ff');
    expect(parseRange('192.0.2.1-256')).toBeNull();
    expect(parseRange('192.0.2.1-2001:db8::1')).toBeNull();
  });

  it('reports a bad group, member and reference at their positions', () => {
    expect(
      issuesOf(
        yaml(
          'virtual_server_groups:',
          '  a: []',
          '  b:',
          '    - { address: 192.0.2.9-3, port: 80 }',
          '    - { address: 192.0.2.1, fwmark: 1 }',
          '  c:',
          '    - { address: 192.0.2.1, port: 80 }',
          '    - { address: "2001:db8::1", port: 80 }',
          '  d:',
          '    - { address: 192.0.2.20, port: 80 }',
          'virtual_servers:',
          '  - { group: nope, real_servers: [] }',
          '  - { group: d, address: 192.0.2.1, real_servers: [] }',
          '  - { group: d, real_servers: [] }',
          '  - { address: 192.0.2.20, port: 80 }',
        ),
      ),
    ).toEqual([
      'test.yaml:2:6: virtual server group "a" has no members',
      'test.yaml:4:18: address range "192.0.2.9-3" ends before it starts',
      'test.yaml:5:7: a group member is either "address" (with "port") or "fwmark", not both',
      'test.yaml:7:5: virtual server group "c" mixes IPv4 and IPv6 members; its real servers can only be of one family',
      'test.yaml:12:14: group "nope" is not in virtual_server_groups (b, d)',
      "test.yaml:13:26: address is not used with group: the group's members are the services",
      'test.yaml:14:5: virtual server tcp/192.0.2.20:80 is listed twice (first at line 13)',
      'test.yaml:15:5: virtual server tcp/192.0.2.20:80 is listed twice (first at line 13)',
    ]);
  });
});

describe('port 0 and port-less real servers', () => {
  it('refuses port 0 without persistence (IPVS forwards all ports only for persistent services)', () => {
    expect(
      issuesOf(
        yaml(
          'virtual_server_groups: { g: [{ address: 192.0.2.2 }] }',
          'virtual_servers:',
          '  - { address: 192.0.2.1, port: 0, check: { type: none }, real_servers: [{ address: 198.51.100.1 }] }',
          '  - { group: g, check: { type: none }, real_servers: [{ address: 198.51.100.1 }] }',
        ),
      ),
    ).toEqual([
      'test.yaml:3:33: tcp/192.0.2.1:0: port 0 (all ports) needs persistence, as IPVS forwards all ports only for persistent services',
      'test.yaml:4:14: tcp/192.0.2.2:0: port 0 (all ports) needs persistence, as IPVS forwards all ports only for persistent services',
    ]);
  });

  it('gives port-less real servers of a fwmark service port 0, and asks a tcp check for connect_port', () => {
    const c = configOf(
      yaml(
        'virtual_servers:',
        '  - fwmark: 5',
        '    check: { type: tcp, connect_port: 22 }',
        '    real_servers: [{ address: 198.51.100.1 }, { address: 198.51.100.2, port: 0 }]',
      ),
    );
    expect(
      c.virtualServers[0]?.realServers.map((rs) => [
        rs.port,
        rs.check.type === 'tcp' && rs.check.connectPort,
      ]),
    ).toEqual([
      [0, 22],
      [0, 22],
    ]);
  });
});

describe('checks and urls', () => {
  it('lists every check of a real server, an http check once per url with its own status and digest', () => {
    const c = configOf(
      yaml(
        'virtual_servers:',
        '  - address: 192.0.2.1',
        '    port: 80',
        '    check: { type: http, status: [200, 204], urls: [{ path: /a }, { path: /b, status: 301, digest: 00112233445566778899aabbccddeeff }] }',
        '    real_servers:',
        '      - { address: 198.51.100.1 }',
        '      - { address: 198.51.100.2, checks: [{ type: tcp, connect_port: 22 }, { type: http, path: /x }] }',
        '      - { address: 198.51.100.3, check: { path: /only } }',
      ),
    );
    const [a, b, own] = c.virtualServers[0]?.realServers ?? [];
    expect(a?.checks.map((k) => k.type === 'http' && [k.path, k.status, k.digest])).toEqual([
      [
        '/a',
        [
          { min: 200, max: 200 },
          { min: 204, max: 204 },
        ],
        null,
      ],
      ['/b', [{ min: 301, max: 301 }], '00112233445566778899aabbccddeeff'],
    ]);
    expect(a?.check).toBe(a?.checks[0]);
    expect(b?.checks.map((k) => k.type)).toEqual(['tcp', 'http']);
    // The real server's own `path` overrides the virtual server's urls as a pair.
    expect(own?.checks.map((k) => k.type === 'http' && k.path)).toEqual(['/only']);
  });

  it('refuses check with checks, and path with urls', () => {
    expect(
      issuesOf(
        yaml(
          'virtual_servers:',
          '  - address: 192.0.2.1',
          '    port: 80',
          '    check: { type: tcp }',
          '    checks: [{ type: tcp }]',
          '    real_servers:',
          '      - { address: 198.51.100.1, check: { type: http, path: /, urls: [{ path: /a }] } }',
        ),
      ),
    ).toEqual([
      'test.yaml:4:5: give either "check" or "checks", not both',
      'test.yaml:7:64: give either "path" or "urls", not both',
    ]);
  });
});

describe('inhibit_on_failure and notify scripts', () => {
  it('take the virtual server inhibit as default, per real server notify and per service quorum scripts', () => {
    const c = configOf(
      yaml(
        'virtual_servers:',
        '  - address: 192.0.2.1',
        '    port: 80',
        '    inhibit_on_failure: true',
        '    quorum_up: /bin/up',
        '    quorum_down: [/bin/q, down]',
        '    real_servers:',
        '      - { address: 198.51.100.1, notify_up: [/bin/n, up], notify_down: /bin/n }',
        '      - { address: 198.51.100.2, inhibit_on_failure: false }',
      ),
    );
    const vs = c.virtualServers[0];
    expect([vs?.quorumUp, vs?.quorumDown]).toEqual([['/bin/up'], ['/bin/q', 'down']]);
    expect(vs?.realServers.map((rs) => [rs.inhibitOnFailure, rs.notifyUp, rs.notifyDown])).toEqual([
      [true, ['/bin/n', 'up'], ['/bin/n']],
      [false, null, null],
    ]);
  });
});
