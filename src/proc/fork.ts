/**
 * Starts a child role of the daemon: the same code (dist/src/proc/child-main.js, next to this
 * file), forked with an IPC channel and structured-clone serialization, its stdout and stderr the
 * parent's (so journald sees one stream). The child's process title names its role.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuTimeMs } from './cpu-time.js';
import type { ChildRole } from './protocol.js';
import type { ChildHandle } from './supervisor.js';

const CHILD_MAIN = fileURLToPath(new URL('./child-main.js', import.meta.url));

export function forkChild(role: ChildRole): ChildHandle {
  const child = fork(CHILD_MAIN, [role], { serialization: 'advanced', stdio: 'inherit' });
  // An error on the channel (EPIPE after the child died) is followed by 'exit'; without a listener
  // it would be thrown.
  child.on('error', () => undefined);
  return {
    pid: child.pid,
    send(message) {
      if (!child.connected) return false;
      try {
        // child.send() answers false also when its queue is long (a big config or target list):
        // the message is queued all the same, so only a closed channel counts as not sent.
        child.send(message as object, (err) => void err);
        return true;
      } catch {
        return false;
      }
    },
    kill: (signal) => void child.kill(signal),
    cpuTimeMs: () => (child.pid === undefined ? null : cpuTimeMs(child.pid)),
    disconnect() {
      if (child.connected) child.disconnect();
    },
    onMessage: (listener) => void child.on('message', listener),
    onExit: (listener) => void child.on('exit', listener),
  };
}
