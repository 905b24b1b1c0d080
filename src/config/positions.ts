/**
 * Where every config problem is reported. The validator walks yaml's node tree (never the plain JS
 * value) so that each node still carries its source range; this context turns a range into the
 * 1-based FILE:LINE:COL that `ipvsctl check` prints, follows aliases (an aliased value is reported
 * where its anchor was written) and collects issues instead of throwing, so one pass reports all.
 */
import { type Document, isAlias, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from '../errors.js';
import type { SourcePos } from './types.js';

/** A yaml document holding a billion-laughs alias tree would make the walk exponential; stop early. */
const MAX_ALIAS_RESOLUTIONS = 10_000;

export class ParseContext {
  readonly issues: ConfigIssue[] = [];
  /** Maps being walked right now: an alias back into one of them would recurse forever. */
  readonly walking = new Set<Node>();
  private aliasResolutions = 0;

  constructor(
    readonly file: string,
    private readonly lineCounter: Pick<LineCounter, 'linePos'>,
    /** The yaml library's document, to follow aliases; null for the fast path (which has none). */
    private readonly doc: Document.Parsed | null,
  ) {
    this.hasAliases = doc !== null;
  }

  /** False when the text cannot hold an alias (the fast path's), so no walk can loop. */
  readonly hasAliases: boolean;

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
    this.issues.push({ file: this.file, line: pos.line, col: pos.col, message });
  }

  /** Follows an alias to the node its anchor names; other nodes are returned as they are. */
  resolve(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null;
    if (!isAlias(node)) return node;
    this.aliasResolutions += 1;
    if (this.aliasResolutions > MAX_ALIAS_RESOLUTIONS) {
      if (this.aliasResolutions === MAX_ALIAS_RESOLUTIONS + 1) {
        this.report(node, `too many alias expansions (more than ${MAX_ALIAS_RESOLUTIONS})`);
      }
      return null;
    }
    const target = this.doc === null ? undefined : node.resolve(this.doc);
    if (target === undefined) {
      this.report(node, `alias *${node.source} refers to no anchor`);
      return null;
    }
    return target;
  }
}

/**
 * Line starts found on first use: the fast parser does not track lines, and a valid config needs
 * positions only for the few places a validator keeps one. Same answers as yaml's LineCounter.
 */
export class LazyLineCounter {
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
