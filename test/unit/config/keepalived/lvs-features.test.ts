/**
 * `convert` of issue 16's LVS features, each checked against keepalived's source
 * (github.com/acassen/keepalived, keepalived/check/): the converted config must mean what
 * keepalived does with the same file.
 */
import { describe, expect, it } from 'vitest';
import { serviceKeyString } from '../../../../src/model/ipvs.js';
import { configFrom, convertFile, fixture, memoryFs } from './helpers.js';

const file = fixture('lvs-features.conf');
const { config, converted } = configFrom(file);
const [web, allPorts, fwmark, plain] = config.virtualServers;

describe('virtual_server_group', () => {
  it('becomes virtual_server_groups: ranges and prefixes expanded as check_data.c alloc_vsg_entry reads them', () => {
    expect(web?.members.map(serviceKeyString)).toEqual([
      'tcp/192.0.2.1:80',
      'tcp/192.0.2.2:80',
      'tcp/192.0.2.3:80',
      'tcp/192.0.2.16:8080',
      'tcp/192.0.2.17:8080',
      'fwmark/7',
    ]);
    expect(converted.yaml).toContain('  WEB:\n    - address: 192.0.2.1-3\n      port: 80\n');
  });

  it('refuses a group that is not defined, and drops an empty one with a warning (check_parser.c vsg_handler)', () => {
    const fs = memoryFs({
      '/k/k.conf':
        'virtual_server_group E {\n}\nvirtual_server group X {\n real_server 198.51.100.1 80 {\n }\n}\n',
    });
    const out = convertFile('/k/k.conf', fs);
    expect(out.warnings).toEqual([
      '/k/k.conf:1:1: warning: virtual_server_group E has no entries and is dropped, as keepalived does',
    ]);
    expect(out.errors).toEqual(['/k/k.conf:3:22: error: virtual_server_group "X" is not defined']);
  });
});

describe('checkers', () => {
  it('keeps several checkers (ipwrapper.c: up only while num_failed_checkers is 0) and several urls (check_http.c epilog: all must succeed)', () => {
    const rs = web?.realServers[0];
    expect(rs?.checks.map((c) => (c.type === 'http' ? `http ${c.path}` : `${c.type}`))).toEqual([
      'http /a',
      'http /b',
      'tcp',
    ]);
    const [a, b, tcp] = rs?.checks ?? [];
    expect(a?.type === 'http' && a.status).toEqual([{ min: 200, max: 200 }]);
    // keepalived: a url without status_code accepts any 2xx.
    expect(b?.type === 'http' && [b.status, b.digest]).toEqual([
      [{ min: 200, max: 299 }],
      '0123456789abcdef0123456789abcdef',
    ]);
    expect(tcp?.type === 'tcp' && tcp.connectPort).toBe(22);
  });
});

describe('real server settings', () => {
  it('keeps inhibit_on_failure per real server (check_parser.c rs_inhibit_handler)', () => {
    expect(web?.realServers.map((rs) => rs.inhibitOnFailure)).toEqual([true, false]);
  });

  it('runs notify_up/down and quorum_up/down as written, keeping the first of two (check_parser.c notify_down_handler)', () => {
    expect(web?.realServers[0]?.notifyUp).toEqual(['/usr/local/bin/rs.sh', 'up']);
    expect(web?.realServers[0]?.notifyDown).toEqual(['/usr/local/bin/rs.sh', 'down']);
    expect([web?.quorumUp, web?.quorumDown]).toEqual([
      ['/usr/local/bin/quorum.sh', 'UP', 'web'],
      ['/usr/local/bin/quorum.sh'],
    ]);
    expect(converted.warnings).toContain(
      `${file}:19:9: warning: a second notify_down is ignored, as keepalived does`,
    );
  });
});

describe('port 0 and port-less real servers', () => {
  it("makes port 0 persistent with keepalived's 360 s and a warning (check_data.c validate_check_config)", () => {
    expect(allPorts?.key).toMatchObject({ address: '192.0.2.50', port: 0 });
    expect(allPorts?.persistence?.timeoutS).toBe(360);
    expect(allPorts?.realServers[0]?.port).toBe(0);
    expect(converted.warnings).toContain(
      `${file}:41:1: warning: port 0 (all ports) is only valid for a persistent service: persistence timeout 360s is set, as keepalived does`,
    );
  });

  it('clears the port of a DR real server of a fwmark service, with a warning, as keepalived does', () => {
    expect(fwmark?.realServers.map((rs) => rs.port)).toEqual([0, 0]);
    expect(converted.warnings).toContain(
      `${file}:58:5: warning: the port of a dr real_server of a fwmark virtual_server is cleared, as keepalived does`,
    );
  });

  it('leaves a plain service as before: one member, its own port', () => {
    expect(plain?.members.map(serviceKeyString)).toEqual(['tcp/192.0.2.60:80']);
    expect(plain?.group).toBeNull();
  });
});
