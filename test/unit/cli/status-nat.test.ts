import { describe, expect, it } from 'vitest';
import { formatStatusText } from '../../../src/cli/status.js';
import { STATUS } from '../../support/status-fixture.js';

const base = {
  ...STATUS,
  virtual_servers: [],
  vrrp: { instances: [], sync_groups: [] },
  last_reconcile: null,
};

describe('ipvsctl status: full NAT', () => {
  it('shows the table, its errors, the last one and a full_nat address the director lacks', () => {
    const text = formatStatusText({
      ...base,
      nat: {
        table: 'present',
        rules: 1,
        errors: 2,
        drift_repairs: 1,
        last_error: 'replacing nftables table inet ipvsd: nft not found',
        sources: [
          { address: '198.51.100.2', local: false },
          { address: '198.51.100.3', local: true },
        ],
      },
    });
    expect(text).toContain(
      '\nfull NAT: nftables table inet ipvsd present, 1 rule, 2 errors, 1 drift repair\n' +
        '  last error: replacing nftables table inet ipvsd: nft not found\n' +
        '  full_nat 198.51.100.2 is not an address of this director\n',
    );
  });

  it('says nothing without full NAT', () => {
    const nat = {
      table: 'absent',
      rules: 0,
      errors: 0,
      drift_repairs: 0,
      last_error: null,
      sources: [],
    } as const;
    expect(formatStatusText({ ...base, nat })).toBe(formatStatusText(base));
  });
});
