/**
 * The dns, udp, ping, smtp and file checks in ipvsd's config language: their keys, defaults
 * (keepalived's, cited where mirrored) and the positioned errors for bad values.
 */
import { describe, expect, it } from 'vitest';
import { configOf, issuesOf, yaml } from './helpers.js';

function service(vsCheck: string, rsCheck: string | null = null): string {
  return yaml(
    'virtual_servers:',
    '  - address: 192.0.2.1',
    '    port: 53',
    '    protocol: udp',
    `    check: ${vsCheck}`,
    '    real_servers:',
    '      - address: 198.51.100.1',
    ...(rsCheck === null ? [] : [`        check: ${rsCheck}`]),
  );
}

const checkOf = (vsCheck: string, rsCheck: string | null = null) =>
  configOf(service(vsCheck, rsCheck)).virtualServers[0]?.realServers[0]?.check;

describe('dns check', () => {
  it('defaults to an SOA query for the root at the real server (check_dns.h DNS_DEFAULT_TYPE, dns_check_end DNS_DEFAULT_NAME)', () => {
    expect(checkOf('{ type: dns }')).toMatchObject({
      type: 'dns',
      queryType: 6,
      queryName: '.',
      connectIp: '198.51.100.1',
      connectPort: 53,
    });
  });

  it('reads query_type and query_name', () => {
    expect(checkOf('{ type: dns, query_type: AAAA, query_name: www.example.com }')).toMatchObject({
      queryType: 28,
      queryName: 'www.example.com',
    });
  });

  it('refuses an empty label (check_dns.c dns_name_handler) and an unknown type, with positions', () => {
    expect(issuesOf(service('{ type: dns, query_name: a..b }'))).toEqual([
      'test.yaml:5:37: query_name "a..b" has an empty label',
    ]);
    expect(issuesOf(service('{ type: dns, query_type: SPF }'))[0]).toMatch(
      /^test\.yaml:5:37: query_type "SPF" is not one of A, NS/,
    );
  });
});

describe('udp check', () => {
  it("defaults: keepalived's filler payload, no reply required, lengths 0-255 (check_udp.c udp_check_handler)", () => {
    expect(checkOf('{ type: udp }')).toMatchObject({
      type: 'udp',
      payload: null,
      requireReply: false,
      replyData: null,
      replyMask: null,
      minReplyLength: 0,
      maxReplyLength: 255,
    });
  });

  it('reads hex payloads and a masked reply the way read_hex_str does', () => {
    const check = checkOf('{ type: udp, payload: "Ab12f 3", require_reply: "0a 1x", max_reply_length: 10 }');
    expect(check).toMatchObject({ requireReply: true, maxReplyLength: 10 });
    if (check?.type !== 'udp') throw new Error('not udp');
    expect([...(check.payload ?? [])]).toEqual([0xab, 0x12, 0x0f, 0x03]);
    expect([...(check.replyData ?? [])]).toEqual([0x0a, 0x10]);
    expect([...(check.replyMask ?? [])]).toEqual([0x00, 0x0f]);
  });

  it('require_reply: true wants a reply without looking at it', () => {
    expect(checkOf('{ type: udp, require_reply: true }')).toMatchObject({
      requireReply: true,
      replyData: null,
    });
  });

  it('refuses bad hex and min > max', () => {
    expect(issuesOf(service('{ type: udp, payload: "zz" }'))).toEqual([
      'test.yaml:5:34: payload must be hex digits in groups separated by blanks, got "zz"',
    ]);
    expect(issuesOf(service('{ type: udp, min_reply_length: 9, max_reply_length: 3 }'))).toEqual([
      'test.yaml:5:12: min_reply_length 9 is greater than max_reply_length 3: no reply could pass',
    ]);
    expect(issuesOf(service('{ type: udp, max_reply_length: 70000 }'))[0]).toMatch(
      /^test\.yaml:5:43: max_reply_length must be an integer from 0 to 65535/,
    );
  });
});

describe('ping check', () => {
  it('takes connect_ip and bind_ip, not a port', () => {
    expect(checkOf('{ type: ping, connect_ip: 198.51.100.9 }')).toMatchObject({
      type: 'ping',
      connectIp: '198.51.100.9',
      bindIp: null,
    });
    expect(checkOf('{ type: ping }')).not.toHaveProperty('connectPort');
    expect(issuesOf(service('{ type: ping, connect_port: 7 }'))).toEqual([
      'test.yaml:5:26: key "connect_port" is not valid for ping checks; it is for tcp, http, https, dns, udp and smtp checks',
    ]);
  });
});

describe('smtp check', () => {
  it('defaults helo_name to smtpchecker.keepalived.org (check_smtp.h SMTP_DEFAULT_HELO)', () => {
    expect(checkOf('{ type: smtp, connect_port: 25 }')).toMatchObject({
      type: 'smtp',
      heloName: 'smtpchecker.keepalived.org',
      connectPort: 25,
    });
  });

  it('refuses a helo_name with blanks', () => {
    expect(issuesOf(service('{ type: smtp, helo_name: "a b" }'))).toEqual([
      'test.yaml:5:37: helo_name must be one word without blanks, got "a b"',
    ]);
  });
});

describe('file check', () => {
  it('needs a file; weight defaults to 1 (keepalived.conf(5) track_file "weight defaults to 1")', () => {
    expect(checkOf('{ type: file, file: /run/rs.state }')).toMatchObject({
      type: 'file',
      path: '/run/rs.state',
      weight: 1,
      reverse: false,
    });
    expect(issuesOf(service('{ type: file }'))).toEqual([
      'test.yaml:5:12: file check is missing required key "file"',
    ]);
  });

  it('reads weight and reverse; the real server may inherit them', () => {
    expect(checkOf('{ type: file, file: /run/x, weight: 0 }', '{ reverse: true }')).toMatchObject({
      weight: 0,
      reverse: true,
    });
    expect(issuesOf(service('{ type: file, file: /run/x, weight: 2147483648 }'))[0]).toMatch(
      /^test\.yaml:5:48: /,
    );
  });

  it('keys of other types are refused by name', () => {
    expect(issuesOf(service('{ type: file, file: /run/x, helo_name: x }'))).toEqual([
      'test.yaml:5:40: key "helo_name" is not valid for file checks; it is for smtp checks',
    ]);
  });
});
