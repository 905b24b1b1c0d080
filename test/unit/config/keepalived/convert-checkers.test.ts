/**
 * keepalived's DNS_CHECK, UDP_CHECK, PING_CHECK, SMTP_CHECK and FILE_CHECK through `convert`: each
 * snippet converts, the YAML passes ipvsd's own validation, and the check it loads means what
 * keepalived's does — same target, same parameters, keepalived's defaults (cited) written out.
 */
import { describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../../../src/config/types.js';
import { configFrom, convertFile, fixture, memoryFs } from './helpers.js';

const FILE = '/etc/keepalived/keepalived.conf';

function convertText(text: string) {
  return convertFile(FILE, memoryFs({ [FILE]: text }));
}

/** The checks of the first virtual server's real servers, converted and loaded. */
function checksOf(text: string): { checks: CheckConfig[]; warnings: string[] } {
  const { config, converted } = configFrom(FILE, memoryFs({ [FILE]: text }));
  return {
    checks: (config.virtualServers[0]?.realServers ?? []).map((rs) => rs.check),
    warnings: converted.warnings,
  };
}

const vs = (proto: string, port: number, body: string, extra = '') => `
${extra}
virtual_server 192.0.2.10 ${port} {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol ${proto}
${body}
}
`;

describe('DNS_CHECK', () => {
  it('type and name carry over; retry defaults to 3 and delay_before_retry to delay_loop (check_dns.c dns_check_handler)', () => {
    const { checks } = checksOf(
      vs(
        'UDP',
        53,
        `    real_server 198.51.100.1 53 {
        DNS_CHECK {
            type a
            name www.example.com
            connect_timeout 2
        }
    }
    real_server 198.51.100.2 53 {
        DNS_CHECK {
        }
    }`,
      ),
    );
    expect(checks[0]).toMatchObject({
      type: 'dns',
      queryType: 1,
      queryName: 'www.example.com',
      connectIp: '198.51.100.1',
      connectPort: 53,
      timeoutMs: 2000,
      intervalMs: 6000,
      retry: 4,
      delayBeforeRetryMs: 6000,
    });
    // DNS_DEFAULT_TYPE SOA, DNS_DEFAULT_NAME "" (the root).
    expect(checks[1]).toMatchObject({ type: 'dns', queryType: 6, queryName: '.', timeoutMs: 5000 });
  });

  it('refuses an unknown type and an empty label at their positions', () => {
    const r = convertText(
      vs(
        'UDP',
        53,
        '    real_server 198.51.100.1 53 {\n        DNS_CHECK {\n            type SPF\n            name a..b\n        }\n    }',
      ),
    );
    expect(r.yaml).toBeNull();
    expect(r.errors).toEqual([
      `${FILE}:10:18: error: DNS_CHECK type must be one of A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG, DNSKEY, got "SPF"`,
      `${FILE}:11:18: error: DNS_CHECK name "a..b" has an empty label`,
    ]);
  });
});

describe('UDP_CHECK', () => {
  it('payload, require_reply with a mask and the reply lengths carry over byte for byte', () => {
    const { checks } = checksOf(
      vs(
        'UDP',
        514,
        `    real_server 198.51.100.1 514 {
        UDP_CHECK {
            payload Ab12f 3
            require_reply 0a 1x
            min_reply_length 2
            max_reply_length 64
        }
    }
    real_server 198.51.100.2 514 {
        UDP_CHECK {
            require_reply
        }
    }
    real_server 198.51.100.3 514 {
        UDP_CHECK {
        }
    }`,
      ),
    );
    const [withBytes, anyReply, plain] = checks;
    if (withBytes?.type !== 'udp' || anyReply?.type !== 'udp' || plain?.type !== 'udp')
      throw new Error('not udp');
    expect([...(withBytes.payload ?? [])]).toEqual([0xab, 0x12, 0x0f, 0x03]);
    expect([...(withBytes.replyData ?? [])]).toEqual([0x0a, 0x10]);
    expect([...(withBytes.replyMask ?? [])]).toEqual([0x00, 0x0f]);
    expect(withBytes).toMatchObject({ requireReply: true, minReplyLength: 2, maxReplyLength: 64, retry: 2 });
    expect(anyReply).toMatchObject({ requireReply: true, replyData: null });
    expect(plain).toMatchObject({
      requireReply: false,
      payload: null,
      minReplyLength: 0,
      maxReplyLength: 255,
    });
  });

  it('min > max is refused (check_udp.c udp_check_end_handler: "will always fail")', () => {
    const r = convertText(
      vs(
        'UDP',
        514,
        '    real_server 198.51.100.1 514 {\n        UDP_CHECK {\n            require_reply 00\n            min_reply_length 9\n            max_reply_length 3\n        }\n    }',
      ),
    );
    expect(r.yaml).toBeNull();
    expect(r.errors).toEqual([
      `${FILE}:9:9: error: UDP_CHECK min_reply_length 9 > max_reply_length 3: it would always fail`,
    ]);
  });
});

describe('PING_CHECK', () => {
  it('becomes a ping check of the real server (or connect_ip); a connect_port is dropped with a warning', () => {
    const { checks, warnings } = checksOf(
      vs(
        'TCP',
        80,
        `    real_server 198.51.100.1 80 {
        PING_CHECK {
            connect_ip 198.51.100.7
            connect_port 80
            retry 2
        }
    }`,
      ),
    );
    expect(checks[0]).toEqual({
      type: 'ping',
      connectIp: '198.51.100.7',
      bindIp: null,
      intervalMs: 6000,
      timeoutMs: 5000,
      retry: 3,
      delayBeforeRetryMs: 1000,
      rise: 1,
      warmupMs: 6000,
      initialState: 'up',
      source: expect.anything(),
    });
    expect(warnings).toEqual([
      `${FILE}:9:9: warning: connect_port of a PING_CHECK is dropped: ICMP has no ports`,
    ]);
  });
});

describe('SMTP_CHECK', () => {
  it('helo_name carries over and defaults to smtpchecker.keepalived.org (check_smtp.h SMTP_DEFAULT_HELO)', () => {
    const { checks } = checksOf(
      vs(
        'TCP',
        25,
        `    real_server 198.51.100.1 25 {
        SMTP_CHECK {
            helo_name director.example.com
        }
    }
    real_server 198.51.100.2 25 {
        SMTP_CHECK {
            connect_port 587
        }
    }`,
      ),
    );
    expect(checks[0]).toMatchObject({ type: 'smtp', heloName: 'director.example.com', connectPort: 25 });
    expect(checks[1]).toMatchObject({
      type: 'smtp',
      heloName: 'smtpchecker.keepalived.org',
      connectPort: 587,
    });
  });

  it('refuses the deprecated host blocks', () => {
    const r = convertText(
      vs(
        'TCP',
        25,
        '    real_server 198.51.100.1 25 {\n        SMTP_CHECK {\n            host {\n                connect_ip 198.51.100.9\n            }\n        }\n    }',
      ),
    );
    expect(r.yaml).toBeNull();
    expect(r.errors[0]).toMatch(
      /:10:13: error: "host" in SMTP_CHECK is not supported: the deprecated SMTP_CHECK host blocks/,
    );
  });
});

describe('FILE_CHECK and track_file', () => {
  const trackFile = `
track_file maint {
    file /run/keepalived/maint
    weight 0
}
track_file weighted {
    file "/run/keepalived/weight"
    weight -10 reverse
    init_file 5
}`;

  it("takes the track file's weight and reverse unless the checker sets its own (check_file.c file_end_handler)", () => {
    const { checks, warnings } = checksOf(
      vs(
        'TCP',
        80,
        `    real_server 198.51.100.1 80 {
        FILE_CHECK {
            track_file maint
        }
    }
    real_server 198.51.100.2 80 {
        FILE_CHECK {
            track_file maint
            weight 0 reverse
        }
    }
    real_server 198.51.100.3 80 {
        FILE_CHECK {
            track_file weighted
        }
    }`,
        trackFile,
      ),
    );
    expect(checks.map((c) => c.type === 'file' && [c.path, c.weight, c.reverse])).toEqual([
      ['/run/keepalived/maint', 0, false],
      ['/run/keepalived/maint', 0, true],
      ['/run/keepalived/weight', -10, true],
    ]);
    expect(checks[0]).toMatchObject({ intervalMs: 1000, retry: 1, warmupMs: 0 });
    // init_file carries over in vrrp_track_files (the VRRP process writes it), and the weight
    // -10 means in ipvsd what it means in keepalived (value × weight added to the real server's
    // weight: track_file.c process_update_checker_track_file_status), so no warning.
    expect(warnings).toEqual([]);
  });

  it('an undefined track_file and a FILE_CHECK without one are refused at their lines', () => {
    const r = convertText(
      vs(
        'TCP',
        80,
        '    real_server 198.51.100.1 80 {\n        FILE_CHECK {\n            track_file nope\n        }\n    }\n    real_server 198.51.100.2 80 {\n        FILE_CHECK {\n        }\n    }',
      ),
    );
    expect(r.yaml).toBeNull();
    expect(r.errors).toEqual([
      `${FILE}:10:24: error: track_file nope is not defined`,
      `${FILE}:14:9: error: FILE_CHECK has no track_file`,
    ]);
  });

  it('a track_file weight outside -254..254 is refused (track_file.c track_file_weight_handler)', () => {
    const r = convertText(`track_file t {\n    file /run/t\n    weight 300\n}\n`);
    expect(r.errors).toEqual([`${FILE}:3:12: error: weight must be from -254 to 254, got 300`]);
  });
});

describe('checker keywords in the wrong checker', () => {
  it('helo_name in a DNS_CHECK is refused', () => {
    const r = convertText(
      vs(
        'UDP',
        53,
        '    real_server 198.51.100.1 53 {\n        DNS_CHECK {\n            helo_name x\n        }\n    }',
      ),
    );
    expect(r.errors).toEqual([`${FILE}:10:13: error: helo_name belongs in SMTP_CHECK, not DNS_CHECK`]);
  });
});

describe('fixtures/checkers.conf (keepalived -t accepts it: test/netns/keepalived-config-test.test.ts)', () => {
  it('converts without a message and every real server keeps its checker', () => {
    const { config, converted } = configFrom(fixture('checkers.conf'));
    expect(converted.messages).toEqual([]);
    const [udp53, smtp25] = config.virtualServers;
    expect(udp53?.realServers.map((rs) => rs.check.type)).toEqual(['dns', 'udp', 'ping', 'file']);
    expect(udp53?.realServers.map((rs) => rs.check.intervalMs)).toEqual([6000, 6000, 6000, 1000]);
    expect(smtp25?.realServers[0]?.check).toMatchObject({
      type: 'smtp',
      heloName: 'director.example.com',
      intervalMs: 10000,
      timeoutMs: 5000,
      retry: 2,
    });
  });
});
