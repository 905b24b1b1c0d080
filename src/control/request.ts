/**
 * Validation of one control request line, pure so every malformed shape is a table test. Anything
 * that comes off the socket is untrusted: the server answers a refusal (IPVSD_ERR_USAGE) with the
 * reason and never lets a bad request reach a handler.
 */
import { type ControlRequest, MAX_REQUEST_BYTES } from './protocol.js';

export type ParsedRequest =
  | { readonly ok: true; readonly request: ControlRequest }
  | { readonly ok: false; readonly message: string };

const COMMANDS = ['status', 'reload', 'drain', 'undrain', 'failover', 'withdraw', 'announce'] as const;

/** A VS, RS or VRRP name argument: names and addresses are short; the limit keeps log lines sane. */
const MAX_ARGUMENT_LENGTH = 256;

function refuse(message: string): ParsedRequest {
  return { ok: false, message };
}

function argument(
  obj: Record<string, unknown>,
  key: 'vs' | 'rs' | 'name' | 'address',
  cmd: string,
): string | ParsedRequest {
  const value = obj[key];
  if (value === undefined) return refuse(`"${cmd}" needs "${key}"`);
  if (typeof value !== 'string') return refuse(`"${key}" must be a string`);
  if (value.trim() === '') return refuse(`"${key}" must not be empty`);
  if (value.length > MAX_ARGUMENT_LENGTH)
    return refuse(`"${key}" is longer than ${MAX_ARGUMENT_LENGTH} characters`);
  return value;
}

/** One request line (without its newline) → the typed request, or why it is refused. */
export function parseControlRequest(line: string): ParsedRequest {
  if (Buffer.byteLength(line, 'utf8') > MAX_REQUEST_BYTES)
    return refuse(`request longer than ${MAX_REQUEST_BYTES} bytes`);
  if (line.trim() === '') return refuse('empty request: send one JSON object and a newline');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return refuse(`request is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return refuse('request must be a JSON object like {"cmd":"status"}');
  const obj = value as Record<string, unknown>;
  const cmd = obj.cmd;
  if (cmd === undefined) return refuse('request has no "cmd"');
  if (typeof cmd !== 'string') return refuse('"cmd" must be a string');
  switch (cmd) {
    case 'status':
    case 'reload':
      return { ok: true, request: { cmd } };
    case 'drain':
    case 'undrain': {
      const vs = argument(obj, 'vs', cmd);
      if (typeof vs !== 'string') return vs;
      const rs = argument(obj, 'rs', cmd);
      if (typeof rs !== 'string') return rs;
      return { ok: true, request: { cmd, vs, rs } };
    }
    case 'failover': {
      const name = argument(obj, 'name', cmd);
      if (typeof name !== 'string') return name;
      return { ok: true, request: { cmd, name } };
    }
    case 'withdraw':
    case 'announce': {
      if (obj.address === undefined || obj.address === null) return { ok: true, request: { cmd } };
      const address = argument(obj, 'address', cmd);
      if (typeof address !== 'string') return address;
      return { ok: true, request: { cmd, address } };
    }
    default:
      return refuse(`unknown command "${cmd.slice(0, 64)}" (known: ${COMMANDS.join(', ')})`);
  }
}
