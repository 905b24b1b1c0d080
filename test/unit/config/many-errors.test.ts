import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/parse.js';
import { formatConfigIssue } from '../../../src/errors.js';

const path = fileURLToPath(new URL('fixtures/many-errors.yaml', import.meta.url));

describe('a file with many errors (many-errors.yaml)', () => {
  it('reports every one of them at once, in file order, at the offending value', () => {
    const { config, issues } = parseConfig(readFileSync(path, 'utf8'), 'many-errors.yaml', { hostname: 'x' });
    expect(config).toBeNull();
    // Positions counted by hand in the fixture.
    expect(issues.map(formatConfigIssue)).toEqual([
      'many-errors.yaml:3:15: ip_forward must be true or false, got "yes"',
      'many-errors.yaml:5:16: unmanaged "delete" is not one of remove, keep',
      'many-errors.yaml:6:22: resync_interval must be a duration like "2s", "500ms", "1m" or a number of seconds, got "10x"',
      'many-errors.yaml:7:22: tcp must be a whole number of seconds, got "1.5s"',
      'many-errors.yaml:8:44: sync_id must be an integer from 0 to 255, got 300',
      'many-errors.yaml:8:57: follow "VG9" is not a vrrp sync group or instance',
      'many-errors.yaml:9:22: listen must be "host:port" (like "127.0.0.1:9469" or "[::1]:9469"), got "127.0.0.1"',
      'many-errors.yaml:10:3: unknown key "control_sock" in director; did you mean "control_socket"?',
      'many-errors.yaml:12:18: script must be an absolute path, got "chk-web"',
      'many-errors.yaml:12:37: interval must be longer than 0s, got "0s"',
      'many-errors.yaml:16:24: virtual_router_id must be an integer from 1 to 255, got 256',
      'many-errors.yaml:17:21: tracked script "chk_missing" is not defined in vrrp_scripts',
      'many-errors.yaml:19:28: instance "VI_2" is not defined in vrrp_instances',
      'many-errors.yaml:20:1: unknown key "virtual_server" in config; did you mean "virtual_servers"?',
      'many-errors.yaml:23:14: address must be an IPv4 or IPv6 address, got "203.0.113.300"',
      'many-errors.yaml:25:5: unknown key "schedular" in virtual server; did you mean "scheduler"?',
      'many-errors.yaml:28:11: port must be an integer from 0 to 65535, got 70000',
      'many-errors.yaml:29:16: scheduler "wrrr" is not one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos',
      'many-errors.yaml:30:43: netmask must be a contiguous dotted mask like 255.255.255.0 for an IPv4 service, got "255.0.255.0"',
      'many-errors.yaml:31:25: key "path" is not valid for tcp checks; it is for http and https checks',
      'many-errors.yaml:31:50: interval must be longer than 0s, got "-1s"',
      'many-errors.yaml:33:18: real server address 2001:db8::1 is IPv6 but the virtual server is IPv4',
      'many-errors.yaml:34:43: weight must be an integer from 0 to 2147483647, got -1',
      'many-errors.yaml:38:23: scheduler flag "sh-port" needs scheduler sh, not wlc',
      'many-errors.yaml:38:32: scheduler flag "ops" (one-packet scheduling) needs protocol udp, not tcp',
      "many-errors.yaml:40:41: port 8443 differs from the virtual server's port 443; with dr forwarding IPVS does not translate ports, so it must be 443",
      'many-errors.yaml:42:9: real server 198.51.100.12:443 is listed twice in virtual server "tcp/203.0.113.11:443" (first at line 41)',
      'many-errors.yaml:43:5: virtual server tcp/203.0.113.11:443 is listed twice (first at line 35)',
      'many-errors.yaml:45:5: duplicate key "port" in virtual server (first at line 44)',
      'many-errors.yaml:46:13: give either "address" (with "port") or "fwmark", not both',
      'many-errors.yaml:48:5: virtual server needs "address" and "port", "fwmark", or "group"',
      'many-errors.yaml:52:9: real server 198.51.100.30 has no port: its tcp check needs connect_port (or give the real server a port)',
      'many-errors.yaml:55:44: status must be HTTP status codes (100-599) or ranges like "200-299", got "2xx"',
      'many-errors.yaml:55:60: digest must be 32 hex digits (an MD5 sum), got "abc"',
      'many-errors.yaml:55:65: key "script" is not valid for http checks; it is for script checks',
    ]);
  });
});
