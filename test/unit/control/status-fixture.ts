/** A daemon status with every case the text formatter distinguishes; shared by unit and netns tests. */
import type { StatusResult } from '../../../src/control/protocol.js';

export const STATUS: StatusResult = {
  virtual_servers: [
    {
      name: 'web',
      protocol: 'tcp',
      address: '203.0.113.100',
      port: 80,
      fwmark: null,
      scheduler: 'wrr',
      quorum: { required: 2, live_weight: 3, met: true },
      sorry_server_active: false,
      real_servers: [
        {
          address: '198.51.100.11',
          port: 8080,
          weight: 3,
          kernel_weight: 3,
          health: 'up',
          drained: false,
          last_check: { ok: true, latency_ms: 1.234, reason: 'HTTP 200', at: '2025-01-01T00:00:01.000Z' },
        },
        {
          address: '198.51.100.12',
          port: 8080,
          weight: 1,
          kernel_weight: 0,
          health: 'up',
          drained: true,
          last_check: { ok: true, latency_ms: 12.6, reason: '', at: '2025-01-01T00:00:01.000Z' },
        },
        {
          address: '198.51.100.13',
          port: 8080,
          weight: 2,
          kernel_weight: null,
          health: 'down',
          drained: false,
          last_check: {
            ok: false,
            latency_ms: 1000,
            reason: 'timed out\nafter 1 s',
            at: '2025-01-01T00:00:01.000Z',
          },
        },
      ],
    },
    {
      name: 'udp/[2001:db8::100]:53',
      protocol: 'udp',
      address: '2001:db8::100',
      port: 53,
      fwmark: null,
      scheduler: 'rr',
      quorum: { required: 1, live_weight: 0, met: false },
      sorry_server_active: true,
      real_servers: [
        {
          address: '2001:db8::11',
          port: 53,
          weight: 1,
          kernel_weight: null,
          health: 'down',
          drained: false,
          last_check: null,
        },
      ],
    },
    {
      name: 'mail',
      protocol: null,
      address: null,
      port: null,
      fwmark: 7,
      scheduler: 'sh',
      quorum: { required: 0, live_weight: 0, met: true },
      sorry_server_active: false,
      real_servers: [],
    },
  ],
  vrrp: {
    instances: [
      { name: 'VI_client', state: 'MASTER', priority: 150 },
      { name: 'VI_server', state: 'MASTER', priority: 150 },
    ],
    sync_groups: [{ name: 'VG1', state: 'MASTER' }],
  },
  last_reconcile: { at: '2025-01-01T00:00:02.000Z', operations: 1, errors: ['add destination: EINVAL'] },
  config: { file: '/etc/ipvsd/ipvsd.yaml', loaded_at: '2025-01-01T00:00:00.000Z' },
};
