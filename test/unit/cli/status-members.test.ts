/** `ipvsctl status` for a virtual server of a virtual_server_groups entry: its members, one line. */
import { describe, expect, it } from 'vitest';
import { formatStatusText } from '../../../src/cli/status.js';
import { STATUS } from '../../support/status-fixture.js';

describe('status text of a group', () => {
  it('lists every member after the title, marking one the kernel lacks', () => {
    const [vs] = STATUS.virtual_servers;
    if (vs === undefined) throw new Error('the fixture has a virtual server');
    const text = formatStatusText({
      ...STATUS,
      virtual_servers: [
        {
          ...vs,
          group: 'WEB',
          members: [
            { protocol: 'tcp', address: '192.0.2.1', port: 80, fwmark: null, in_kernel: true },
            { protocol: null, address: null, port: null, fwmark: 7, in_kernel: false },
          ],
        },
      ],
    });
    const lines = text.split('\n');
    const title = lines.findIndex((l) => l.startsWith('virtual server '));
    expect(lines[title + 1]).toBe('  group WEB: tcp/192.0.2.1:80, fwmark/7 (not in the kernel)');
  });
});
