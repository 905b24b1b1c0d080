/**
 * Where every config problem is reported. The validator walks yaml's node tree (never the plain JS
 * value) so that each node still carries its source range; this context turns a range into the
 * 1-based FILE:LINE:COL that `ipvsctl check` prints, follows aliases (an aliased value is reported
 * where its anchor was written) and collects issues instead of throwing, so one pass reports all.
 * Messages are stored as one bounded printable line (errors.ts boundedMessage), and at most
 * MAX_ISSUES of them, so a file of a million bad values costs no more than a short one to report.
 */
import { isAlias, type Node } from 'yaml';
import { boundedMessage, type ConfigIssue, quote } from '../errors.js';
import type { SourcePos } from './types.js';

export const MAX_ISSUES = 1000;

export class ParseContext {
  readonly issues: ConfigIssue[] = [];
  /** Maps being walked right now: an alias back into one of them would recurse forever. */
  readonly walking = new Set<Node>();
  private dropped = 0;

  constructor(
    readonly file: string,
    private readonly lineCounter: Pick<LineIndex, 'linePos'>,
    /** Each alias's target, found in one pass over the document (yaml-source.ts). */
    private readonly aliases: ReadonlyMap<Node, Node | undefined> = new Map(),
  ) {}

  /** The position of an offset in the text (1-based line and column). */
  posAt(offset: number): SourcePos {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, col };
  }

  /** The position where a node's text starts; nodes without a range fall back to 1:1. */
  pos(node: Node | null | undefined): SourcePos {
    const start = node?.range?.[0];
    return start === undefined ? { line: 1, col: 1 } : this.posAt(start);
  }

  report(at: SourcePos | Node | null | undefined, message: string): void {
    const pos = at !== null && at !== undefined && 'line' in at ? at : this.pos(at);
    if (this.issues.length >= MAX_ISSUES) {
      this.dropped += 1;
      return;
    }
    this.issues.push({ file: this.file, line: pos.line, col: pos.col, message: boundedMessage(message) });
  }

  /** How many issues were not kept (past MAX_ISSUES). */
  get droppedIssues(): number {
    return this.dropped;
  }

  /** Follows an alias to the node its anchor names; other nodes are returned as they are. */
  resolve(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (!isAlias(node)) return node;
    const target = this.aliases.get(node);
    if (target === undefined) {
      this.report(node, `alias ${quote(`*${node.source}`)} refers to no anchor before it`);
      return null;
    }
    return target;
  }
}

/** Line starts of a text, found on first use (a valid config needs few positions). */
export class LineIndex {
  private lineStarts: number[] | null = null;

  constructor(private readonly text: string) {}

  linePos(offset: number): { line: number; col: number } {
    if (this.lineStarts === null) {
      const starts = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((starts[mid] as number) <= offset) low = mid + 1;
      else high = mid;
    }
    return { line: low, col: offset - (starts[low - 1] as number) + 1 };
  }
}

export function formatPos(pos: SourcePos): string {
  return `line ${pos.line}`;
}
