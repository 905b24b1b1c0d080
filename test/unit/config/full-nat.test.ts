import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

const service = (...extra: string[]) =>
  yaml(
    'virtual_servers:',
    '  - address: 203.0.113.100',
    '    port: 80',
    ...extra,
    '    real_servers:',
    '      - { address: 198.51.100.11, port: 8080 }',
  );

describe('virtual_servers[].full_nat', () => {
  it('is the canonical source address, null when absent', () => {
    expect(configOf(service('    full_nat: 198.51.100.2')).virtualServers[0]?.fullNat).toBe('198.51.100.2');
    expect(configOf(service()).virtualServers[0]?.fullNat).toBeNull();
    const v6 = yaml(
      'virtual_servers:',
      '  - address: 2001:db8::100',
      '    port: 80',
      '    full_nat: 2001:DB8:0::2',
      '    real_servers: [{ address: "2001:db8::11" }]',
    );
    expect(configOf(v6).virtualServers[0]?.fullNat).toBe('2001:db8::2');
  });

  it('refuses another family than the service, at the address', () => {
    expect(issuesOf(service('    full_nat: "2001:db8::2"'))).toEqual([
      'test.yaml:4:15: full_nat address 2001:db8::2 is IPv6 but the virtual server is IPv4',
    ]);
  });

  it('refuses dr and tun, saying why', () => {
    const [dr] = issuesOf(service('    forwarding: dr', '    full_nat: 198.51.100.2'));
    expect(dr).toMatch(
      /^test\.yaml:5:15: full_nat needs forwarding nat, not dr: .*answer the client directly/,
    );
    const [tun] = issuesOf(service('    forwarding: tun', '    full_nat: 198.51.100.2'));
    expect(tun).toMatch(/^test\.yaml:5:15: full_nat needs forwarding nat, not tun: .*tunnel/);
  });

  it('refuses a real server that overrides the forwarding to dr, at that real server', () => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 203.0.113.100',
      '    port: 80',
      '    full_nat: 198.51.100.2',
      '    real_servers:',
      '      - { address: 198.51.100.11 }',
      '      - { address: 198.51.100.12, forwarding: dr }',
    );
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      /^test\.yaml:7:9: real server 198\.51\.100\.12:80 uses dr forwarding, but .*full_nat/,
    );
  });

  it.each([
    ['0.0.0.0', 'in 0.0.0.0/8'],
    ['127.0.0.1', 'a loopback address'],
    ['224.0.0.18', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['240.0.0.1', 'reserved'],
  ])('refuses %s (%s): a source must be unicast', (address, why) => {
    const [issue] = issuesOf(service(`    full_nat: ${address}`));
    expect(issue).toContain(`test.yaml:4:15: full_nat ${address} is ${why}`);
  });

  it.each([
    ['"::"', 'the unspecified address'],
    ['"::1"', 'the loopback address'],
    ['"ff02::12"', 'a multicast address'],
    ['"::ffff:198.51.100.2"', 'an IPv4-mapped address'],
  ])('refuses IPv6 %s (%s)', (address, why) => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 2001:db8::100',
      '    port: 80',
      `    full_nat: ${address}`,
      '    real_servers: [{ address: "2001:db8::11" }]',
    );
    expect(issuesOf(text)[0]).toContain(why);
  });

  it('refuses what is not an address', () => {
    expect(issuesOf(service('    full_nat: director-b'))).toHaveLength(1);
  });
});
