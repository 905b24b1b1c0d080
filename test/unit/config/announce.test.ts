import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

describe('announce (issue 15)', () => {
  const base = yaml(
    'director:',
    '  announce: { withdraw_delay: 2s, table: 4000, protocol: 77, interface: dummy0 }',
    'virtual_servers:',
    '  - address: 203.0.113.100',
    '    port: 80',
    '    announce: true',
    '  - address: 203.0.113.100',
    '    port: 443',
    '    announce: true',
    '  - address: 203.0.113.101',
    '    port: 80',
  );

  it('reads director.announce and the per-service flag (default false)', () => {
    const c = configOf(base);
    expect(c.director.announce).toEqual({
      withdrawDelayMs: 2000,
      table: 4000,
      protocol: 77,
      interface: 'dummy0',
    });
    expect(c.virtualServers.map((vs) => vs.announce)).toEqual([true, true, false]);
  });

  it('defaults: 5s, table 200, protocol 240, lo', () => {
    const c = configOf(yaml('virtual_servers: []'));
    expect(c.director.announce).toEqual({
      withdrawDelayMs: 5000,
      table: 200,
      protocol: 240,
      interface: 'lo',
    });
  });

  it('refuses services on one address that disagree, at the later one', () => {
    expect(
      issuesOf(base.replace('    port: 443\n    announce: true', '    port: 443\n    announce: false')),
    ).toEqual([
      'test.yaml:7:5: virtual server "tcp/203.0.113.100:443" has announce: false but "tcp/203.0.113.100:80" on the same address 203.0.113.100 has announce: true (at line 4); every service on an announced address must set it',
    ]);
  });

  it('refuses the kernel tables, routing daemons protocols and fwmark services', () => {
    const bad = yaml(
      'director:',
      '  announce: { table: 254, protocol: 12, withdraw_delay: -1s }',
      'virtual_servers:',
      '  - fwmark: 7',
      '    announce: true',
      '  - address: 203.0.113.100',
      '    port: 80',
      '    announce: yes please',
    );
    const issues = issuesOf(bad);
    expect(issues).toHaveLength(5);
    expect(issues[0]).toBe(
      'test.yaml:2:22: table 254 is the kernel\'s "main" table; give ipvsd a table of its own (like 200)',
    );
    expect(issues[1]).toBe(
      'test.yaml:2:37: protocol 12 belongs to bird, which deletes such routes when it starts; pick another (like 240)',
    );
    expect(issues[2]).toMatch(/^test\.yaml:2:57: /);
    expect(issues[3]).toBe(
      'test.yaml:5:15: announce needs an address service: a firewall mark names no address to announce',
    );
    expect(issues[4]).toMatch(/^test\.yaml:8:15: /);
    expect(issuesOf(bad.replace('protocol: 12', 'protocol: 190'))[1]).toContain("FRR's daemons");
    expect(issuesOf(bad.replace('protocol: 12', 'protocol: 4'))[1]).toMatch(/^test\.yaml:2:37: /);
  });

  it('refuses an announced VIP that a VRRP instance also holds', () => {
    const text = yaml(
      'vrrp_instances:',
      '  VI_1:',
      '    interface: eth0',
      '    virtual_router_id: 51',
      '    priority: 100',
      '    virtual_ipaddresses: ["203.0.113.100/24"]',
      'virtual_servers:',
      '  - address: 203.0.113.100',
      '    port: 80',
      '    announce: true',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:8:5: virtual server "tcp/203.0.113.100:80" is announced, but its address 203.0.113.100 is a virtual address of vrrp instance "VI_1": announce a VIP over BGP or hold it with VRRP, not both',
    ]);
    expect(issuesOf(text.replace('announce: true', 'announce: false'))).toEqual([]);
  });
});
