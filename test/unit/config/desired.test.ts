import { describe, expect, it } from 'vitest';
import { desiredServices } from '../../../src/config/desired.js';
import { configOf, yaml } from './helpers.js';

describe('desiredServices', () => {
  it('maps every virtual server with all its real servers at their configured weight', () => {
    const config = configOf(
      yaml(
        'virtual_servers:',
        '  - address: 203.0.113.100',
        '    port: 80',
        '    scheduler: wrr',
        '    persistence: { timeout: 600s, netmask: 255.255.255.0 }',
        '    sorry_server: { address: 198.51.100.99 }',
        '    real_servers:',
        '      - { address: 198.51.100.11, port: 8080, weight: 3, check: { type: http } }',
        '      - { address: 198.51.100.12, weight: 0, upper_threshold: 100, lower_threshold: 10 }',
        '      - { address: 198.51.100.13, forwarding: dr }',
        '  - address: 2001:db8::53',
        '    port: 53',
        '    protocol: udp',
        '    scheduler: mh',
        '    scheduler_flags: [mh-fallback, mh-port, ops]',
        '    persistence: { timeout: 10s, netmask: 64 }',
        '    real_servers: [{ address: "2001:db8::1" }]',
        '  - fwmark: 7',
        '    scheduler: sh',
        '    scheduler_flags: [sh-port]',
        '    real_servers: []',
      ),
    );
    expect(desiredServices(config)).toEqual([
      {
        key: { family: 'inet', protocol: 'tcp', address: '203.0.113.100', port: 80, fwmark: null },
        scheduler: 'wrr',
        persistence: { timeoutS: 600, netmask: '255.255.255.0' },
        flags: 0,
        destinations: [
          {
            address: '198.51.100.11',
            port: 8080,
            forwarding: 'nat',
            weight: 3,
            upperThreshold: 0,
            lowerThreshold: 0,
          },
          {
            address: '198.51.100.12',
            port: 80,
            forwarding: 'nat',
            weight: 0,
            upperThreshold: 100,
            lowerThreshold: 10,
          },
          {
            address: '198.51.100.13',
            port: 80,
            forwarding: 'dr',
            weight: 1,
            upperThreshold: 0,
            lowerThreshold: 0,
          },
        ],
      },
      {
        key: { family: 'inet6', protocol: 'udp', address: '2001:db8::53', port: 53, fwmark: null },
        scheduler: 'mh',
        persistence: { timeoutS: 10, netmask: '64' },
        // IP_VS_SVC_F_SCHED1 (0x8) | IP_VS_SVC_F_SCHED2 (0x10) | IP_VS_SVC_F_ONEPACKET (0x4)
        flags: 0x1c,
        destinations: [
          {
            address: '2001:db8::1',
            port: 53,
            forwarding: 'nat',
            weight: 1,
            upperThreshold: 0,
            lowerThreshold: 0,
          },
        ],
      },
      {
        key: { family: 'inet', protocol: null, address: null, port: null, fwmark: 7 },
        scheduler: 'sh',
        persistence: null,
        flags: 0x10,
        destinations: [],
      },
    ]);
  });
});
