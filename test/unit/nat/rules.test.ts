import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { fullNatServices, listingFingerprint, nftScript, ruleText } from '../../../src/nat/rules.js';

function config(text: string): Config {
  const { config, issues } = parseConfig(text, 'test.yaml');
  expect(issues).toEqual([]);
  return config as Config;
}

const SITE = config(`virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
    full_nat: 198.51.100.2
    sorry_server: { address: 198.51.100.99, port: 8080 }
    real_servers:
      - { address: 198.51.100.12, port: 8080 }
      - { address: 198.51.100.11, port: 8080 }
  - name: plain
    address: 203.0.113.100
    port: 443
    real_servers: [{ address: 198.51.100.11 }]
  - name: dns6
    address: 2001:db8::100
    port: 53
    protocol: udp
    full_nat: 2001:db8:1::2
    check: { type: none }
    real_servers: [{ address: "2001:db8:1::11" }]
  - name: marked
    fwmark: 7
    full_nat: 198.51.100.2
    real_servers: [{ address: 198.51.100.13, port: 80 }]
`);

describe('fullNatServices', () => {
  it('takes the full_nat services only, with real servers and sorry server sorted', () => {
    const services = fullNatServices(SITE.virtualServers);
    expect(services.map((s) => s.name)).toEqual(['web', 'dns6', 'marked']);
    expect(services[0]).toEqual({
      name: 'web',
      family: 'inet',
      original: { protocol: 'tcp', address: '203.0.113.100', port: 80 },
      fwmark: null,
      destinations: [
        { address: '198.51.100.11', port: 8080 },
        { address: '198.51.100.12', port: 8080 },
        { address: '198.51.100.99', port: 8080 },
      ],
      source: '198.51.100.2',
    });
    expect(services[2]).toMatchObject({ original: null, fwmark: 7 });
  });

  it('lists a real server that is also the sorry server once', () => {
    const c = config(`virtual_servers:
  - address: 203.0.113.100
    port: 80
    full_nat: 198.51.100.2
    sorry_server: { address: 198.51.100.11, port: 8080 }
    real_servers: [{ address: 198.51.100.11, port: 8080 }]
`);
    expect(fullNatServices(c.virtualServers)[0]?.destinations).toEqual([
      { address: '198.51.100.11', port: 8080 },
    ]);
  });
});

describe('nftScript', () => {
  it('replaces the whole table in one transaction, one rule per service (golden)', () => {
    expect(nftScript(fullNatServices(SITE.virtualServers))).toBe(
      [
        'table inet ipvsd {}',
        'delete table inet ipvsd',
        'table inet ipvsd {',
        '  chain full_nat {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        '    meta l4proto tcp ct original ip daddr 203.0.113.100 ct original proto-dst 80 ip daddr . th dport { 198.51.100.11 . 8080, 198.51.100.12 . 8080, 198.51.100.99 . 8080 } counter snat ip to 198.51.100.2 comment "ipvsd web"',
        '    meta l4proto udp ct original ip6 daddr 2001:db8::100 ct original proto-dst 53 ip6 daddr . th dport { 2001:db8:1::11 . 53 } counter snat ip6 to 2001:db8:1::2 comment "ipvsd dns6"',
        '    meta nfproto ipv4 meta mark 7 meta l4proto { tcp, udp, sctp } ip daddr . th dport { 198.51.100.13 . 80 } counter snat ip to 198.51.100.2 comment "ipvsd marked"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('with no full-NAT service only deletes the table', () => {
    expect(nftScript([])).toBe('table inet ipvsd {}\ndelete table inet ipvsd\n');
  });

  it('writes no rule for a service without destinations (nft refuses an empty set)', () => {
    const [web] = fullNatServices(SITE.virtualServers);
    const empty = { ...(web as NonNullable<typeof web>), destinations: [] };
    expect(ruleText(empty)).toBeNull();
    expect(nftScript([empty])).toBe('table inet ipvsd {}\ndelete table inet ipvsd\n');
  });

  it('keeps a name that is not safe in an nft string out of the comment', () => {
    const [web] = fullNatServices(SITE.virtualServers);
    const odd = { ...(web as NonNullable<typeof web>), name: 'a"b; flush ruleset\n#' };
    expect(ruleText(odd)).toMatch(/comment "ipvsd a_b_ flush ruleset__"$/);
  });
});

describe('listingFingerprint', () => {
  const listing = (handle: number, packets: number, version = '1.0.6') =>
    JSON.stringify({
      nftables: [
        { metainfo: { version, json_schema_version: 1 } },
        { table: { family: 'inet', name: 'ipvsd', handle } },
        {
          chain: {
            family: 'inet',
            table: 'ipvsd',
            name: 'full_nat',
            handle,
            type: 'nat',
            hook: 'postrouting',
            prio: 100,
          },
        },
        {
          rule: {
            family: 'inet',
            table: 'ipvsd',
            chain: 'full_nat',
            handle: handle + 2,
            expr: [
              { counter: { packets, bytes: packets * 60 } },
              { snat: { family: 'ip', addr: '198.51.100.2' } },
            ],
          },
        },
      ],
    });

  it('ignores handles, counter values and the program version', () => {
    expect(listingFingerprint(listing(1, 0))).toBe(listingFingerprint(listing(9, 1234, '1.1.1')));
  });

  it('sees a changed rule', () => {
    const changed = listing(1, 0).replace('198.51.100.2', '198.51.100.3');
    expect(listingFingerprint(changed)).not.toBe(listingFingerprint(listing(1, 0)));
  });

  it('is null for what is not nft JSON', () => {
    expect(listingFingerprint('table inet ipvsd {')).toBeNull();
    expect(listingFingerprint('{"tables": []}')).toBeNull();
  });
});
