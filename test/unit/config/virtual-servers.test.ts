import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

describe('IPv6 services', () => {
  const text = yaml(
    'virtual_servers:',
    '  - address: 2001:DB8:0::100',
    '    port: 443',
    '    persistence: { netmask: 64 }',
    '    sorry_server: { address: "2001:db8::99" }',
    '    real_servers:',
    '      - address: 2001:db8:0:0::11',
    '        port: 8443',
  );

  it('derive the family from the address and use canonical addresses', () => {
    const [vs] = configOf(text).virtualServers;
    expect(vs?.name).toBe('tcp/[2001:db8::100]:443');
    expect(vs?.key).toEqual({
      family: 'inet6',
      protocol: 'tcp',
      address: '2001:db8::100',
      port: 443,
      fwmark: null,
    });
    expect(vs?.persistence).toEqual({ timeoutS: 300, netmask: '64' });
    expect(vs?.sorryServer).toEqual({ address: '2001:db8::99', port: 443, source: { line: 5, col: 19 } });
    expect(vs?.realServers[0]).toMatchObject({ address: '2001:db8::11', port: 8443 });
  });

  it('default the persistence netmask to 128 and refuse a dotted one', () => {
    const vs = configOf(text.replace('{ netmask: 64 }', '{}')).virtualServers[0];
    expect(vs?.persistence).toEqual({ timeoutS: 300, netmask: '128' });
    expect(issuesOf(text.replace('64', '255.255.255.0'))).toEqual([
      'test.yaml:4:29: netmask must be a prefix length from 1 to 128 for an IPv6 service, got "255.255.255.0"',
    ]);
    expect(issuesOf(text.replace('64', '129'))).toHaveLength(1);
  });

  it('refuse IPv4 real servers and sorry servers', () => {
    const mixed = text
      .replace('"2001:db8::99"', '198.51.100.99')
      .replace('2001:db8:0:0::11', '198.51.100.11');
    expect(issuesOf(mixed)).toEqual([
      'test.yaml:5:30: sorry server address 198.51.100.99 is IPv4 but the virtual server is IPv6',
      'test.yaml:7:18: real server address 198.51.100.11 is IPv4 but the virtual server is IPv6',
    ]);
  });
});

describe('fwmark services', () => {
  it('take a family (default inet), need real server ports and have no port or protocol', () => {
    const text = yaml(
      'virtual_servers:',
      '  - fwmark: 7',
      '    real_servers: [{ address: 198.51.100.1, port: 80 }]',
      '  - fwmark: 7',
      '    family: inet6',
      '    real_servers: [{ address: "2001:db8::1", port: 80 }]',
    );
    const [v4, v6] = configOf(text).virtualServers;
    expect(v4?.name).toBe('fwmark/7');
    expect(v4?.key).toEqual({ family: 'inet', protocol: null, address: null, port: null, fwmark: 7 });
    expect(v6?.name).toBe('fwmark6/7');
    expect(v6?.key).toEqual({ family: 'inet6', protocol: null, address: null, port: null, fwmark: 7 });
    expect(v6?.realServers[0]?.check).toMatchObject({
      type: 'tcp',
      connectIp: '2001:db8::1',
      connectPort: 80,
    });
  });

  it('report what does not belong', () => {
    const text = yaml(
      'virtual_servers:',
      '  - fwmark: 0',
      '    port: 80',
      '    protocol: tcp',
      '    sorry_server: { address: 198.51.100.9 }',
      '    real_servers: [{ address: 198.51.100.1 }]',
      '  - address: 192.0.2.1',
      '    port: 80',
      '    family: inet',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:2:13: fwmark must be an integer from 1 to 4294967295, got 0',
      'test.yaml:3:11: port is not used with fwmark: the mark alone selects the packets',
      'test.yaml:4:15: protocol is not used with fwmark: the mark alone selects the packets',
      // A port-less real or sorry server of a fwmark service is port 0 (keepalived's check_data.c
      // alloc_rs / alloc_ssvr take no port), but a tcp check then has nothing to connect to.
      'test.yaml:6:20: real server 198.51.100.1 has no port: its tcp check needs connect_port (or give the real server a port)',
      'test.yaml:9:13: family is only for fwmark services; an address service takes it from its address',
    ]);
  });
});

describe('duplicates', () => {
  it('are reported at the second service, name and real server', () => {
    const text = yaml(
      'virtual_servers:',
      '  - { name: a, address: 192.0.2.1, port: 80 }',
      '  - { name: b, address: 192.0.2.1, port: 80, protocol: udp }',
      '  - { name: a, address: 192.0.2.2, port: 80 }',
      '  - { name: c, address: 192.0.2.1, port: 80 }',
      '  - address: 192.0.2.3',
      '    port: 80',
      '    real_servers:',
      '      - { address: 198.51.100.1 }',
      '      - { address: 198.51.100.1, port: 81 }',
      '      - { address: 198.51.100.1, port: 80 }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:4:5: virtual server name "a" is used twice (first at line 2)',
      'test.yaml:5:5: virtual server tcp/192.0.2.1:80 is listed twice (first at line 2)',
      'test.yaml:11:9: real server 198.51.100.1:80 is listed twice in virtual server "tcp/192.0.2.3:80" (first at line 9)',
    ]);
  });

  it('count a default name against explicit ones', () => {
    const text = yaml(
      'virtual_servers:',
      '  - { name: tcp/192.0.2.2:80, address: 192.0.2.1, port: 80 }',
      '  - { address: 192.0.2.2, port: 80 }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:3:5: virtual server name "tcp/192.0.2.2:80" is used twice (first at line 2)',
    ]);
  });
});

describe('forwarding and ports', () => {
  it('lets NAT real servers use another port, and defaults to the service port', () => {
    const text = yaml(
      'virtual_servers:',
      '  - { address: 192.0.2.1, port: 80, real_servers: [{ address: 198.51.100.1, port: 8080 }, { address: 198.51.100.2 }] }',
    );
    const rs = configOf(text).virtualServers[0]?.realServers;
    expect(rs?.map((r) => [r.port, r.forwarding])).toEqual([
      [8080, 'nat'],
      [80, 'nat'],
    ]);
  });

  it('requires the service port for dr and tun, where IPVS does not translate it', () => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 192.0.2.1',
      '    port: 80',
      '    forwarding: tun',
      '    sorry_server: { address: 198.51.100.9, port: 8080 }',
      '    real_servers:',
      '      - { address: 198.51.100.1 }',
      '      - { address: 198.51.100.2, port: 80, forwarding: dr }',
      '      - { address: 198.51.100.3, port: 81, forwarding: dr }',
      '      - { address: 198.51.100.4, port: 81, forwarding: nat }',
    );
    expect(issuesOf(text)).toEqual([
      "test.yaml:5:50: port 8080 differs from the virtual server's port 80; with tun forwarding IPVS does not translate ports, so it must be 80",
      "test.yaml:9:40: port 81 differs from the virtual server's port 80; with dr forwarding IPVS does not translate ports, so it must be 80",
    ]);
    const fixed = configOf(
      text.replace('port: 8080', 'port: 80').replace('port: 81, forwarding: dr', 'port: 80, forwarding: dr'),
    );
    expect(fixed.virtualServers[0]?.realServers.map((r) => r.forwarding)).toEqual(['tun', 'dr', 'dr', 'nat']);
  });
});

describe('scheduler flags', () => {
  const flags = (scheduler: string, protocol: string, list: string) =>
    yaml(
      'virtual_servers:',
      `  - { address: 192.0.2.1, port: 53, protocol: ${protocol}, scheduler: ${scheduler}, scheduler_flags: ${list} }`,
    );

  it('accept the flags of the chosen scheduler', () => {
    expect(
      configOf(flags('mh', 'udp', '[mh-fallback, mh-port, ops]')).virtualServers[0]?.schedulerFlags,
    ).toEqual(['mh-fallback', 'mh-port', 'ops']);
  });

  it('refuse flags of another scheduler, ops without udp, repeats and unknown names', () => {
    expect(issuesOf(flags('sh', 'tcp', '[mh-port, ops, sh-port, sh-port, sh-fallbak]'))).toEqual([
      'test.yaml:2:85: scheduler flag "mh-port" needs scheduler mh, not sh',
      'test.yaml:2:94: scheduler flag "ops" (one-packet scheduling) needs protocol udp, not tcp',
      'test.yaml:2:108: scheduler flag "sh-port" is listed twice',
      'test.yaml:2:117: scheduler flag "sh-fallbak" is not one of sh-fallback, sh-port, mh-fallback, mh-port, ops',
    ]);
  });

  it('allow ops on fwmark services, which may carry UDP', () => {
    const text = yaml('virtual_servers:', '  - { fwmark: 3, scheduler_flags: [ops] }');
    expect(configOf(text).virtualServers[0]?.schedulerFlags).toEqual(['ops']);
  });
});

describe('virtual server values', () => {
  it('default scheduler wlc, forwarding nat, quorum 1, no persistence, and read the rest', () => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 192.0.2.1',
      '    port: 25',
      '    protocol: sctp',
      '    quorum: 2',
      '    hysteresis: 1',
      '    inhibit_on_failure: true',
      '    persistence: { timeout: 1m, netmask: 255.255.255.0 }',
      '    real_servers:',
      '      - { address: 198.51.100.1, weight: 2147483647, upper_threshold: 10, lower_threshold: 5 }',
      '  - { address: 192.0.2.2, port: 25, persistence: null, real_servers: null }',
    );
    const [a, b] = configOf(text).virtualServers;
    expect(a).toMatchObject({
      name: 'sctp/192.0.2.1:25',
      scheduler: 'wlc',
      forwarding: 'nat',
      quorum: 2,
      hysteresis: 1,
      inhibitOnFailure: true,
      persistence: { timeoutS: 60, netmask: '255.255.255.0' },
    });
    expect(a?.realServers[0]).toMatchObject({ weight: 2147483647, upperThreshold: 10, lowerThreshold: 5 });
    expect(a?.realServers[0]?.check).toMatchObject({ type: 'none' });
    expect(b).toMatchObject({
      persistence: null,
      realServers: [],
      quorum: 1,
      hysteresis: 0,
      inhibitOnFailure: false,
    });
  });

  it('checks persistence timeouts, thresholds and weights', () => {
    const text = yaml(
      'virtual_servers:',
      '  - address: 192.0.2.1',
      '    port: 80',
      '    quorum: 0',
      '    persistence: { timeout: 1500ms }',
      '    real_servers:',
      '      - { address: 198.51.100.1, weight: 2147483648, upper_threshold: 5, lower_threshold: 6 }',
    );
    expect(issuesOf(text)).toEqual([
      'test.yaml:4:13: quorum must be an integer from 1 to 2147483647, got 0',
      'test.yaml:5:29: timeout must be a whole number of seconds, got "1500ms"',
      'test.yaml:7:42: weight must be an integer from 0 to 2147483647, got 2147483648',
      'test.yaml:7:91: lower_threshold 6 must not be above upper_threshold 5',
    ]);
  });
});
