import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES } from '../../../src/control/protocol.js';
import { parseControlRequest } from '../../../src/control/request.js';

describe('parseControlRequest', () => {
  it.each([
    ['{"cmd":"status"}', { cmd: 'status' }],
    ['{"cmd":"reload"}', { cmd: 'reload' }],
    [' {"cmd":"status","extra":1}\r', { cmd: 'status' }],
    [
      '{"cmd":"drain","vs":"web","rs":"198.51.100.11:8080"}',
      { cmd: 'drain', vs: 'web', rs: '198.51.100.11:8080' },
    ],
    [
      '{"cmd":"undrain","vs":"fwmark/7","rs":"[2001:db8::1]:80"}',
      { cmd: 'undrain', vs: 'fwmark/7', rs: '[2001:db8::1]:80' },
    ],
    ['{"cmd":"failover","name":"VG1"}', { cmd: 'failover', name: 'VG1' }],
    ['{"cmd":"withdraw"}', { cmd: 'withdraw' }],
    ['{"cmd":"withdraw","address":null}', { cmd: 'withdraw' }],
    ['{"cmd":"announce","address":"203.0.113.100"}', { cmd: 'announce', address: '203.0.113.100' }],
  ])('accepts %s', (line, request) => {
    expect(parseControlRequest(line)).toEqual({ ok: true, request });
  });

  it.each([
    ['', 'empty request: send one JSON object and a newline'],
    ['   ', 'empty request: send one JSON object and a newline'],
    ['status', /^request is not valid JSON: /],
    ['{"cmd":"status"', /^request is not valid JSON: /],
    ['[]', 'request must be a JSON object like {"cmd":"status"}'],
    ['null', 'request must be a JSON object like {"cmd":"status"}'],
    ['"status"', 'request must be a JSON object like {"cmd":"status"}'],
    ['{}', 'request has no "cmd"'],
    ['{"cmd":7}', '"cmd" must be a string'],
    ['{"cmd":"withdraw","address":7}', '"address" must be a string'],
    ['{"cmd":"announce","address":" "}', '"address" must not be empty'],
    [
      '{"cmd":"flush"}',
      'unknown command "flush" (known: status, reload, drain, undrain, failover, withdraw, announce)',
    ],
    [
      '{"cmd":"toString"}',
      'unknown command "toString" (known: status, reload, drain, undrain, failover, withdraw, announce)',
    ],
    ['{"cmd":"drain"}', '"drain" needs "vs"'],
    ['{"cmd":"drain","vs":"web"}', '"drain" needs "rs"'],
    ['{"cmd":"undrain","vs":1,"rs":"x"}', '"vs" must be a string'],
    ['{"cmd":"undrain","vs":"web","rs":null}', '"rs" must be a string'],
    ['{"cmd":"drain","vs":" ","rs":"x"}', '"vs" must not be empty'],
    ['{"cmd":"failover"}', '"failover" needs "name"'],
    ['{"cmd":"failover","name":["VG1"]}', '"name" must be a string'],
    ['{"cmd":"failover","name":""}', '"name" must not be empty'],
    [`{"cmd":"drain","vs":"${'a'.repeat(257)}","rs":"x"}`, '"vs" is longer than 256 characters'],
    [
      `{"cmd":"status","pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}`,
      `request longer than ${MAX_REQUEST_BYTES} bytes`,
    ],
  ])('refuses %s', (line, message) => {
    const parsed = parseControlRequest(line);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  it('a long unknown command is cut in the message', () => {
    const parsed = parseControlRequest(JSON.stringify({ cmd: 'x'.repeat(1000) }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message.length).toBeLessThan(200);
  });
});
