/**
 * The CLI's side of the control socket: one request, one response. It imports only the protocol,
 * never the daemon. Every way of not getting an answer becomes an IpvsdError whose message tells the
 * operator what to do (start ipvsd, run as root, look at a hung daemon).
 */
import { createConnection } from 'node:net';
import { IpvsdError } from '../errors.js';
import type { ControlRequest, ControlResponse, ControlResults } from './protocol.js';

export interface ControlRequestOptions {
  /** Give up (and close the connection) after this long. Default 10 s. */
  readonly timeoutMs?: number;
}

/** A status of thousands of real servers is a few MiB; anything far beyond that is not ipvsd. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

function connectError(path: string, err: NodeJS.ErrnoException): IpvsdError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ENOTDIR':
      return new IpvsdError('IPVSD_ERR_CONTROL', `ipvsd is not running (no control socket at ${path})`, {
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
      return new IpvsdError('IPVSD_ERR_PERMISSION', `permission denied on ${path}: run as root`, {
        cause: err,
      });
    default:
      return new IpvsdError('IPVSD_ERR_CONTROL', `cannot reach ipvsd on ${path}: ${err.message}`, {
        cause: err,
      });
  }
}

/** Checks the envelope only; the result's shape is the command's business. */
function parseResponse(path: string, line: string): ControlResponse {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new IpvsdError('IPVSD_ERR_CONTROL', `malformed response from ipvsd on ${path}: not JSON`, {
      cause: err,
    });
  }
  const v = value as Record<string, unknown> | null;
  if (typeof v === 'object' && v !== null) {
    if (v.ok === true && 'result' in v) return { ok: true, result: v.result };
    const e = v.error as Record<string, unknown> | null | undefined;
    if (
      v.ok === false &&
      typeof e === 'object' &&
      e !== null &&
      typeof e.code === 'string' &&
      typeof e.message === 'string'
    )
      return { ok: false, error: { code: e.code, message: e.message } };
  }
  throw new IpvsdError('IPVSD_ERR_CONTROL', `malformed response from ipvsd on ${path}`);
}

/**
 * Sends `request` to the daemon listening on `path` and resolves with its response (which may be
 * `{ok: false}`: the daemon's refusal is an answer, not an exception). Rejects with an IpvsdError when
 * there is no answer: IPVSD_ERR_CONTROL (no daemon, timeout, garbage) or IPVSD_ERR_PERMISSION.
 */
export function controlRequest<R extends ControlRequest>(
  path: string,
  request: R,
  options: ControlRequestOptions = {},
): Promise<ControlResponse<ControlResults[R['cmd']]>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let connected = false;
    const socket = createConnection({ path });
    const finish = (outcome: () => ControlResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(outcome() as ControlResponse<ControlResults[R['cmd']]>);
      } catch (err) {
        reject(err);
      }
    };
    const fail = (err: IpvsdError) =>
      finish(() => {
        throw err;
      });
    const complete = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const nl = text.indexOf('\n');
      finish(() => parseResponse(path, nl === -1 ? text : text.slice(0, nl)));
    };
    const timer = setTimeout(
      () =>
        fail(
          new IpvsdError('IPVSD_ERR_CONTROL', `ipvsd did not answer on ${path} within ${timeoutMs / 1000} s`),
        ),
      timeoutMs,
    );

    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (chunk.includes(0x0a)) complete();
      else if (size > MAX_RESPONSE_BYTES)
        fail(
          new IpvsdError(
            'IPVSD_ERR_CONTROL',
            `response from ipvsd on ${path} is larger than ${MAX_RESPONSE_BYTES} bytes`,
          ),
        );
    });
    socket.on('end', () => {
      if (size > 0) complete();
      else
        fail(new IpvsdError('IPVSD_ERR_CONTROL', `ipvsd closed the connection on ${path} without answering`));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The daemon may answer and close before reading everything we sent (a refused oversized
      // request): the answer counts, the EPIPE/ECONNRESET does not.
      if (size > 0) complete();
      else if (!connected) fail(connectError(path, err));
      else
        fail(
          new IpvsdError('IPVSD_ERR_CONTROL', `connection to ipvsd on ${path} failed: ${err.message}`, {
            cause: err,
          }),
        );
    });
  });
}
