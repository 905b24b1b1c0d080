/** docs/keepalived.md's keyword list is generated from the converter's tables and must not be stale. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KEEPALIVED_DOC,
  keepalivedReference,
  withKeepalivedReference,
} from '../../../../src/config/keepalived/reference.js';
import { ROOT } from './helpers.js';

describe('the keepalived keyword reference', () => {
  const doc = readFileSync(join(ROOT, KEEPALIVED_DOC), 'utf8');

  it('is what the tables say (run npm run schema after changing a table)', () => {
    expect(withKeepalivedReference(doc, keepalivedReference())).toBe(doc);
  });

  it('lists converted, dropped and refused keywords with their reasons', () => {
    const reference = keepalivedReference();
    expect(reference).toContain('### `vrrp_instance`');
    expect(reference).toMatch(/Converted: .*`virtual_router_id`/);
    expect(reference).toContain('- `smtp_alert`: ipvsd sends no mail; watch its metrics or logs instead');
    expect(reference).toMatch(/Refused:\n\n(- .*\n)*- `auth_hmac`: /);
  });
});
