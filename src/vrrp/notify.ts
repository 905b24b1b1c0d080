/**
 * Notify scripts, as keepalived runs them: the configured argv plus four arguments — the kind
 * (`INSTANCE` or `GROUP`), the name, the state (`MASTER`, `BACKUP`, `FAULT`, `STOP`) and the
 * priority. Run without a shell as bounded children (src/sys/child-process.ts): output discarded,
 * the exit status only logged, and killed with everything they started at a timeout (a notify
 * script that hangs must never hold up the state machine, nor pile up processes with every
 * transition). Nothing is awaited: a slow script never delays the next transition.
 */

import { runBoundedChild } from '../sys/child-process.js';
import type { Logger } from '../sys/logger.js';
import type { NotifyState } from './types.js';

export type NotifyKind = 'INSTANCE' | 'GROUP';

export interface NotifyRequest {
  readonly argv: readonly string[];
  readonly kind: NotifyKind;
  readonly name: string;
  readonly state: NotifyState;
  readonly priority: number;
}

export type RunNotify = (request: NotifyRequest) => void;

/**
 * How long a notify script may run. Generous (a `systemctl restart` of a proxy can take seconds)
 * but bounded: VRRP transitions are seconds apart, so at most a handful can be running at once.
 */
export const NOTIFY_TIMEOUT_MS = 30_000;

/** The full argv of a notify call (pure; exported for tests). */
export function notifyArgv(request: NotifyRequest): string[] {
  return [...request.argv, request.kind, request.name, request.state, String(request.priority)];
}

/** A RunNotify that spawns the script; failures are logged, never thrown. */
export function createRunNotify(logger: Logger, options: { readonly timeoutMs?: number } = {}): RunNotify {
  const timeoutMs = options.timeoutMs ?? NOTIFY_TIMEOUT_MS;
  return (request) => {
    const argv = notifyArgv(request);
    if (argv[0] === undefined || argv[0] === '') return;
    const fields = { script: argv[0], kind: request.kind, name: request.name, state: request.state };
    runBoundedChild({ argv, timeoutMs }).then(
      (outcome) => {
        if (outcome.end === 'failed')
          logger.warn({ ...fields, err: outcome.error?.message }, 'notify script failed to start');
        else if (outcome.end === 'timeout')
          logger.warn({ ...fields, timeoutMs }, 'notify script killed at its timeout');
        else if (outcome.end === 'exited' && outcome.code !== 0)
          logger.warn({ ...fields, code: outcome.code, signal: outcome.signal }, 'notify script failed');
      },
      (error: unknown) => logger.warn({ ...fields, err: error }, 'notify script failed to start'),
    );
  };
}
