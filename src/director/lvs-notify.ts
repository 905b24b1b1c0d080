/**
 * The LVS notify scripts: a real server's `notify_up`/`notify_down` and a virtual server's
 * `quorum_up`/`quorum_down`. The director runs them, since it is where a real server's health (all
 * its checks together) and a virtual server's quorum are known; the checks child only probes, and
 * VRRP's event loop never sees them. As keepalived (check/ipwrapper.c do_rs_notifies and
 * do_vs_notifies call notify_exec with the configured command), the argv is run as written, with no
 * arguments added. Bounded children (src/sys/child-process.ts): output discarded, killed at the
 * timeout with everything they started, never awaited, failures logged.
 */
import { runBoundedChild } from '../sys/child-process.js';
import type { Logger } from '../sys/logger.js';

/** What started the script, for the log line. */
export interface LvsNotifyEvent {
  readonly event: 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down';
  readonly virtualServer: string;
  readonly realServer?: string;
}

export type RunLvsNotify = (argv: readonly string[], event: LvsNotifyEvent) => void;

/** As the VRRP notify scripts (src/vrrp/notify.ts): generous, but bounded. */
export const LVS_NOTIFY_TIMEOUT_MS = 30_000;

export function createRunLvsNotify(logger: Logger, timeoutMs = LVS_NOTIFY_TIMEOUT_MS): RunLvsNotify {
  return (argv, event) => {
    const fields = { script: argv[0], ...event };
    logger.info(fields, 'lvs notify script started');
    runBoundedChild({ argv, timeoutMs }).then(
      (outcome) => {
        if (outcome.end === 'failed')
          logger.warn({ ...fields, err: outcome.error?.message }, 'lvs notify script failed to start');
        else if (outcome.end === 'timeout')
          logger.warn({ ...fields, timeoutMs }, 'lvs notify script killed at its timeout');
        else if (outcome.end === 'exited' && outcome.code !== 0)
          logger.warn({ ...fields, code: outcome.code, signal: outcome.signal }, 'lvs notify script failed');
      },
      (error: unknown) => logger.warn({ ...fields, err: error }, 'lvs notify script failed to start'),
    );
  };
}
