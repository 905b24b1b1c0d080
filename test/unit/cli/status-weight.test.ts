/** `ipvsctl status`: a real server whose file checks moved its weight shows both weights. */
import { describe, expect, it } from 'vitest';
import { formatStatusText } from '../../../src/cli/status.js';
import { STATUS } from '../../support/status-fixture.js';

describe('status text of a file-weighted real server', () => {
  it('shows the effective weight with the configured one beside it, and only where they differ', () => {
    const [vs] = STATUS.virtual_servers;
    if (vs === undefined) throw new Error('the fixture has a virtual server');
    const [rs1, ...rest] = vs.real_servers;
    if (rs1 === undefined) throw new Error('the fixture has a real server');
    const text = formatStatusText({
      ...STATUS,
      virtual_servers: [
        {
          ...vs,
          real_servers: [
            { ...rs1, effective_weight: 25, kernel_weight: 25 },
            ...rest.map((r) => ({ ...r, effective_weight: r.weight })),
          ],
        },
      ],
    });
    const row = (address: string) => text.split('\n').find((l) => l.trimStart().startsWith(address)) ?? '';
    expect(row('198.51.100.11:8080')).toMatch(/^\s*198\.51\.100\.11:8080\s+up\s+25 \(3 configured\)\s+25\s/);
    expect(row('198.51.100.12:8080')).toMatch(/^\s*198\.51\.100\.12:8080\s+up\s+1\s+0\s/);
  });
});
