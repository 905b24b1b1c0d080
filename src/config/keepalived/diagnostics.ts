/**
 * What a conversion has to say about the source file, each at the keepalived.conf position it is
 * about. An `error` refuses the conversion (something would behave differently under ipvsd); a
 * `warning` is a keyword that is dropped because leaving it out changes nothing that carries
 * traffic (mail, SNMP, process tuning). Nothing is ever dropped without one of the two.
 */

import { boundedMessage } from '../../errors.js';

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

export class Diagnostics {
  readonly list: Diagnostic[] = [];

  error(at: Place, message: string): undefined {
    this.list.push({ file: at.file, line: at.line, col: at.col, severity: 'error', message });
    return undefined;
  }

  warn(at: Place, message: string): void {
    this.list.push({ file: at.file, line: at.line, col: at.col, severity: 'warning', message });
  }

  get failed(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }

  /** In the order of the files as read (includes in place), then line and column. */
  sorted(fileOrder: readonly string[]): Diagnostic[] {
    const rank = (file: string) => {
      const i = fileOrder.indexOf(file);
      return i === -1 ? fileOrder.length : i;
    };
    return [...this.list].sort((a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.col - b.col);
  }
}
