/**
 * What a conversion has to say about the source file, each at the keepalived.conf position it is
 * about. An `error` refuses the conversion (something would behave differently under ipvsd); a
 * `warning` is a keyword that is dropped because leaving it out changes nothing that carries
 * traffic (mail, SNMP, process tuning). Nothing is ever dropped without one of the two.
 */

import { boundedMessage, escapeControl } from '../../errors.js';

export type Severity = 'error' | 'warning';

/** A place in a keepalived file: 1-based line and column. */
export interface Place {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface Diagnostic extends Place {
  readonly severity: Severity;
  readonly message: string;
}

/** One printable line whatever the source held (control characters escaped, length bounded). */
export function formatDiagnostic(d: Diagnostic): string {
  return `${boundedMessage(d.file, 200)}:${d.line}:${d.col}: ${d.severity}: ${boundedMessage(d.message)}`;
}

/** Messages kept; past this, one summary line says how many more there were (a ~SEQ of errors). */
export const MAX_DIAGNOSTICS = 1000;

export class Diagnostics {
  readonly list: Diagnostic[] = [];
  private errors = 0;
  private dropped = 0;
  private firstDropped: Place | null = null;

  // Messages quote the input; control characters are escaped as they are recorded, so no reader
  // of the list (the CLI, a test, a future JSON output) can meet a raw one.
  error(at: Place, message: string): undefined {
    this.errors++;
    this.add(at, 'error', message);
    return undefined;
  }

  warn(at: Place, message: string): void {
    this.add(at, 'warning', message);
  }

  private add(at: Place, severity: Severity, message: string): void {
    if (this.list.length >= MAX_DIAGNOSTICS) {
      this.dropped++;
      this.firstDropped ??= { file: at.file, line: at.line, col: at.col };
      return;
    }
    this.list.push({ file: at.file, line: at.line, col: at.col, severity, message: escapeControl(message) });
  }

  get failed(): boolean {
    return this.errors > 0;
  }

  /** In the order of the files as read (includes in place), then line and column. */
  sorted(fileOrder: readonly string[]): Diagnostic[] {
    const rank = new Map<string, number>();
    fileOrder.forEach((file, i) => {
      if (!rank.has(file)) rank.set(file, i);
    });
    const order = (file: string) => rank.get(file) ?? fileOrder.length;
    const out = [...this.list].sort(
      (a, b) => order(a.file) - order(b.file) || a.line - b.line || a.col - b.col,
    );
    if (this.firstDropped !== null) {
      out.push({
        ...this.firstDropped,
        severity: this.errors > 0 ? 'error' : 'warning',
        message: `${this.dropped} more messages from here on are not shown (the first ${MAX_DIAGNOSTICS} are above)`,
      });
    }
    return out;
  }
}
