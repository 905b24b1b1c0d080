/**
 * What the daemon commands share: the control call (injected, so tests need no socket) and the
 * mapping of its outcomes to exit codes: no answer is a connection error (2), the daemon's refusal a
 * failure (1).
 */
import { controlRequest } from '../control/client.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { IpvsdError } from '../errors.js';
import { type CliOutput, EXIT_FAILED, EXIT_USAGE } from './output.js';

/** Sends one request; rejects with an IpvsdError when the daemon cannot be reached. */
export type ControlCall = (request: ControlRequest, timeoutMs: number) => Promise<ControlResponse>;

export function socketControlCall(path: string): ControlCall {
  return (request, timeoutMs) => controlRequest(path, request, { timeoutMs });
}

/** How long each command waits; reload's handler may take up to 30 s on the daemon side. */
export const CONTROL_TIMEOUT_MS = {
  status: 10_000,
  reload: 60_000,
  drain: 10_000,
  undrain: 10_000,
  failover: 15_000,
  withdraw: 15_000,
  announce: 15_000,
} as const;

/** The result when the daemon answered ok, or the exit code after the problem has been printed. */
export async function askDaemon(
  call: ControlCall,
  request: ControlRequest,
  io: CliOutput,
): Promise<{ readonly result: unknown } | { readonly exit: number }> {
  let response: ControlResponse;
  try {
    response = await call(request, CONTROL_TIMEOUT_MS[request.cmd]);
  } catch (err) {
    if (!(err instanceof IpvsdError)) throw err;
    io.err(`ipvsctl: ${err.message}\n`);
    return { exit: EXIT_USAGE };
  }
  if (!response.ok) {
    io.err(`ipvsctl: ${response.error.message}\n`);
    return { exit: EXIT_FAILED };
  }
  return { result: response.result };
}
