/**
 * The identity of a check, as a string. Two real servers (in two virtual servers, or in two
 * generations of the config) whose checks would do exactly the same thing get the same id, so the
 * monitor probes them once and a reload that leaves a check alone keeps its health. Everything
 * that shapes the probing or the verdict is part of the identity (type, addresses, every parameter,
 * timing included: two virtual servers asking for different `rise` cannot share one state machine).
 * Left out: `source` (where the check was written), and what only matters before a target's first
 * probe (`warmupMs`, `initialState`): changing those on a reload must not reset a running target's
 * health. The id starts with a readable summary for logs and ends with a hash of the canonical
 * parameters.
 */
import { createHash } from 'node:crypto';
import type { CheckConfig, CheckTiming } from '../config/types.js';
import { canonicalAddress } from '../model/address.js';
import { hostPort } from '../model/ipvs.js';

function timing(check: CheckTiming): unknown[] {
  return [check.intervalMs, check.timeoutMs, check.retry, check.delayBeforeRetryMs, check.rise];
}

/** Every parameter in a fixed order; values that mean the same are spelled the same. */
function canonicalParameters(check: CheckConfig): unknown[] {
  switch (check.type) {
    case 'none':
      return ['none'];
    case 'tcp':
      return [
        'tcp',
        canonicalAddress(check.connectIp),
        check.connectPort,
        check.bindIp === null ? null : canonicalAddress(check.bindIp),
        ...timing(check),
      ];
    case 'http':
    case 'https': {
      const tls = check.type === 'https';
      return [
        check.type,
        canonicalAddress(check.connectIp),
        check.connectPort,
        check.bindIp === null ? null : canonicalAddress(check.bindIp),
        ...timing(check),
        check.path,
        [...check.status].sort((a, b) => a.min - b.min || a.max - b.max).map((r) => [r.min, r.max]),
        check.digest?.toLowerCase() ?? null,
        check.host,
        // Meaningless for plain HTTP: must not split otherwise equal checks.
        tls ? check.sni : null,
        tls ? check.verifyTls : null,
      ];
    }
    case 'script':
      return ['script', [...check.argv], ...timing(check)];
    case 'dns':
      return [...connectParameters(check), ...timing(check), check.queryType, check.queryName];
    case 'udp':
      return [
        ...connectParameters(check),
        ...timing(check),
        hex(check.payload),
        check.requireReply,
        hex(check.replyData),
        hex(check.replyMask),
        check.minReplyLength,
        check.maxReplyLength,
      ];
    case 'ping':
      return [
        'ping',
        canonicalAddress(check.connectIp),
        check.bindIp === null ? null : canonicalAddress(check.bindIp),
        ...timing(check),
      ];
    case 'smtp':
      return [...connectParameters(check), ...timing(check), check.heloName];
    case 'file':
      return ['file', check.path, check.weight, check.reverse, ...timing(check)];
  }
}

function hex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('hex');
}

function connectParameters(check: Extract<CheckConfig, { connectPort: number }>): unknown[] {
  return [
    check.type,
    canonicalAddress(check.connectIp),
    check.connectPort,
    check.bindIp === null ? null : canonicalAddress(check.bindIp),
  ];
}

function summary(check: CheckConfig): string {
  switch (check.type) {
    case 'none':
      return 'none';
    case 'tcp':
      return `tcp/${hostPort(canonicalAddress(check.connectIp), check.connectPort)}`;
    case 'http':
    case 'https':
      return `${check.type}/${hostPort(canonicalAddress(check.connectIp), check.connectPort)}${check.path}`;
    case 'script':
      return `script/${check.argv[0] ?? ''}`;
    case 'dns':
    case 'udp':
    case 'smtp':
      return `${check.type}/${hostPort(canonicalAddress(check.connectIp), check.connectPort)}`;
    case 'ping':
      return `ping/${canonicalAddress(check.connectIp)}`;
    case 'file':
      return `file/${check.path}`;
  }
}

/**
 * `tcp/198.51.100.11:8080#3f2a9c01b7e4`, `http/[2001:db8::1]:80/health#…`, `none`. Equal for
 * checks that probe and judge the same way; stable across processes and versions of the config.
 */
export function checkTargetId(check: CheckConfig): string {
  if (check.type === 'none') return 'none';
  const hash = createHash('sha256')
    .update(JSON.stringify(canonicalParameters(check)))
    .digest('hex');
  return `${summary(check)}#${hash.slice(0, 12)}`;
}
