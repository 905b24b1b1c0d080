/**
 * Tokens to a tree of statements. A statement is a keyword, its arguments (the rest of its line)
 * and optionally a block: `{` on the same line or the next, closed by `}` anywhere. keepalived
 * also writes whole blocks on one line (`url { path /x digest abc }`): there, a word that is a
 * keyword of the enclosing block starts a new statement, so the parser asks `splitsAt` which
 * words those are. Brace errors are reported and parsing goes on, so one run lists them all.
 *
 * The parser keeps its open blocks on an explicit stack, not the call stack, and refuses blocks
 * nested deeper than MAX_NESTING (keepalived's deepest is four: virtual_server, real_server,
 * HTTP_GET, url) with the position of the brace, so no input can exhaust the stack here or in the
 * code that walks the tree. It yields each top-level statement as soon as it is closed.
 */
import type { Diagnostics } from './diagnostics.js';
import type { Token } from './tokenizer.js';

export interface Statement {
  readonly keyword: Token;
  readonly args: readonly Token[];
  /** null: the statement has no block. */
  readonly block: readonly Statement[] | null;
}

/** Whether `word` is a keyword of the block opened by `enclosing` (a one-line block splits there). */
export type SplitsAt = (enclosing: string, word: string) => boolean;

export const MAX_NESTING = 32;

const isOpen = (t: Token | undefined) => t !== undefined && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined) => t !== undefined && !t.quoted && t.text === '}';

interface Frame {
  /** The keyword that opened the block (null: a "{" without one, whose contents are dropped). */
  readonly owner: { keyword: Token; args: Token[] } | null;
  readonly enclosing: string | null;
  readonly open: Token;
  readonly statements: Statement[];
}

/** Every top-level statement, in order, each yielded once its block is closed. */
export function* parseStream(
  tokens: Iterable<Token>,
  diagnostics: Diagnostics,
  splitsAt: SplitsAt,
): Generator<Statement> {
  const it = tokens[Symbol.iterator]();
  const pull = (): Token | undefined => {
    const r = it.next();
    return r.done === true ? undefined : r.value;
  };
  let look = pull();
  const take = (): Token => {
    const t = look as Token;
    look = pull();
    return t;
  };
  const stack: Frame[] = [];
  /** Closes the innermost block: its statement goes to the parent block, or out when top-level. */
  const close = (): Statement | null => {
    const frame = stack.pop() as Frame;
    if (frame.owner === null) return null;
    const s: Statement = { keyword: frame.owner.keyword, args: frame.owner.args, block: frame.statements };
    const parent = stack[stack.length - 1];
    if (parent === undefined) return s;
    parent.statements.push(s);
    return null;
  };

  while (look !== undefined) {
    const frame = stack[stack.length - 1];
    const keyword = take();
    if (isClose(keyword)) {
      if (frame === undefined) {
        diagnostics.error(keyword, 'unmatched "}"');
        continue;
      }
      const done = close();
      if (done !== null) yield done;
      continue;
    }
    if (isOpen(keyword)) {
      diagnostics.error(keyword, 'a block ("{") needs a keyword before it');
      if (stack.length >= MAX_NESTING) skipBlock(keyword);
      else stack.push({ owner: null, enclosing: frame?.enclosing ?? null, open: keyword, statements: [] });
      continue;
    }
    // A statement on the line of its block's "{" is part of a one-line block.
    const enclosing = frame?.enclosing ?? null;
    const oneLine = frame !== undefined && enclosing !== null && keyword.lineId === frame.open.lineId;
    const args: Token[] = [];
    while (look !== undefined && look.lineId === keyword.lineId && !isOpen(look) && !isClose(look)) {
      if (oneLine && enclosing !== null && !look.quoted && splitsAt(enclosing, look.text)) break;
      args.push(take());
    }
    if (isOpen(look)) {
      const brace = take();
      if (stack.length >= MAX_NESTING) {
        diagnostics.error(
          brace,
          `blocks nest deeper than ${MAX_NESTING} levels (keepalived's deepest is 4); this block is not read`,
        );
        skipBlock(brace);
        const s: Statement = { keyword, args, block: [] };
        if (frame === undefined) yield s;
        else frame.statements.push(s);
        continue;
      }
      stack.push({ owner: { keyword, args }, enclosing: keyword.text, open: brace, statements: [] });
      continue;
    }
    const s: Statement = { keyword, args, block: null };
    if (frame === undefined) yield s;
    else frame.statements.push(s);
  }
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    diagnostics.error(frame.open, `"{" of ${frame.enclosing ?? 'a block'} is never closed`);
    const done = close();
    if (done !== null) yield done;
  }

  /** Takes the tokens up to the "}" that closes `open` (or the end), counting nested braces. */
  function skipBlock(open: Token): void {
    let depth = 1;
    while (look !== undefined && depth > 0) {
      const t = take();
      if (isOpen(t)) depth++;
      else if (isClose(t)) depth--;
    }
    if (depth > 0) diagnostics.error(open, '"{" is never closed');
  }
}

/** The whole tree at once (tests and small inputs). */
export function parse(tokens: Iterable<Token>, diagnostics: Diagnostics, splitsAt: SplitsAt): Statement[] {
  return [...parseStream(tokens, diagnostics, splitsAt)];
}
