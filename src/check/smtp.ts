/**
 * The SMTP check (keepalived's SMTP_CHECK, check_smtp.c smtp_engine_thread): connect, read the
 * banner's first line and require code 220, send `HELO <helo_name>`, require 250, send QUIT and
 * read one more line (any line: keepalived does not look at QUIT's answer), then close. Lines are
 * read and coded by ./smtp-reply.ts. One deadline covers the whole exchange (keepalived gives each
 * read and write connect_timeout of its own), as the HTTP check's does: a server that answers
 * slower than that is as dead to mail clients. The connection closing or failing before the last
 * line fails the check.
 */
import { connect, type Socket } from 'node:net';
import type { SmtpCheck } from '../config/types.js';
import { describeError, type ProbeResult, probeAsPromise, stopwatch, timeoutReason } from './result.js';
import { SmtpLineReader, smtpReplyCode } from './smtp-reply.js';

export type SmtpProbeCheck = Pick<
  SmtpCheck,
  'connectIp' | 'connectPort' | 'bindIp' | 'timeoutMs' | 'heloName'
>;

type Step = 'banner' | 'helo' | 'quit';

/** A line as it goes into a reason: printable, short. */
function shown(line: string): string {
  const clean = line.replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

export function startSmtpProbe(check: SmtpProbeCheck, done: (result: ProbeResult) => void): () => void {
  const elapsed = stopwatch();
  const reader = new SmtpLineReader();
  let step: Step = 'banner';
  let socket: Socket | null = connect({
    host: check.connectIp,
    port: check.connectPort,
    ...(check.bindIp === null ? {} : { localAddress: check.bindIp }),
  });
  const finish = (result: ProbeResult | null): void => {
    if (socket === null) return;
    const s = socket;
    socket = null;
    clearTimeout(timer);
    s.removeAllListeners('data');
    s.removeAllListeners('close');
    s.on('error', () => {});
    s.destroy();
    if (result !== null) done(result);
  };
  const fail = (reason: string): void => finish({ ok: false, latencyMs: elapsed(), reason });
  const timer = setTimeout(() => fail(timeoutReason(check.timeoutMs, step)), check.timeoutMs);
  socket.setNoDelay(true);
  socket.on('error', (err) => fail(describeError(err)));
  socket.on('close', () => fail(`connection closed before the ${step} reply`));
  socket.on('data', (chunk: Buffer) => {
    const line = reader.push(chunk);
    if (line === null || socket === null) return;
    const code = smtpReplyCode(line);
    switch (step) {
      case 'banner':
        if (code !== 220) return fail(`bad greeting banner: ${shown(line)}`);
        step = 'helo';
        socket.write(`HELO ${check.heloName}\r\n`);
        return;
      case 'helo':
        if (code !== 250) return fail(`bad HELO response: ${shown(line)}`);
        step = 'quit';
        socket.write('QUIT\r\n');
        return;
      case 'quit':
        return finish({ ok: true, latencyMs: elapsed(), reason: 'HELO accepted' });
    }
  });
  return () => finish(null);
}

export function probeSmtp(check: SmtpProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  return probeAsPromise(startSmtpProbe, check, signal);
}
