/**
 * Notify scripts, as keepalived runs them: the configured argv plus four arguments — the kind
 * (`INSTANCE` or `GROUP`), the name, the state (`MASTER`, `BACKUP`, `FAULT`, `STOP`) and the
 * priority. Run without a shell and detached, with output discarded and the exit status only
 * logged: a script that hangs or fails must never hold up or break the state machine.
 */
import { spawn } from 'node:child_process';
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

/** The full argv of a notify call (pure; exported for tests). */
export function notifyArgv(request: NotifyRequest): string[] {
  return [...request.argv, request.kind, request.name, request.state, String(request.priority)];
}

/** A RunNotify that spawns the script; failures are logged, never thrown. */
export function createRunNotify(logger: Logger): RunNotify {
  return (request) => {
    const [cmd, ...args] = notifyArgv(request);
    if (cmd === undefined || cmd === '') return;
    const fields = { script: cmd, kind: request.kind, name: request.name, state: request.state };
    try {
      const child = spawn(cmd, args, { stdio: 'ignore', detached: true, shell: false });
      child.on('error', (error) => logger.warn({ ...fields, err: error }, 'notify script failed to start'));
      child.on('exit', (code, signal) => {
        if (code !== 0) logger.warn({ ...fields, code, signal }, 'notify script failed');
      });
      child.unref();
    } catch (error) {
      logger.warn({ ...fields, err: error }, 'notify script failed to start');
    }
  };
}
