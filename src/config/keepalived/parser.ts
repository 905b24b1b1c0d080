/**
 * Tokens to a tree of statements. A statement is a keyword, its arguments (the rest of its line)
 * and optionally a block: `{` on the same line or the next, closed by `}` anywhere. keepalived
 * also writes whole blocks on one line (`url { path /x digest abc }`): there, a word that is a
 * keyword of the enclosing block starts a new statement, so the parser asks `splitsAt` which
 * words those are. Brace errors are reported and parsing goes on, so one run lists them all.
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

const isOpen = (t: Token | undefined) => t !== undefined && !t.quoted && t.text === '{';
const isClose = (t: Token | undefined) => t !== undefined && !t.quoted && t.text === '}';

export function parse(tokens: readonly Token[], diagnostics: Diagnostics, splitsAt: SplitsAt): Statement[] {
  let i = 0;

  function block(enclosing: string | null, open: Token | null): Statement[] {
    const statements: Statement[] = [];
    while (i < tokens.length) {
      const keyword = tokens[i] as Token;
      if (isClose(keyword)) {
        i++;
        if (open !== null) return statements;
        diagnostics.error(keyword, 'unmatched "}"');
        continue;
      }
      i++;
      if (isOpen(keyword)) {
        diagnostics.error(keyword, 'a block ("{") needs a keyword before it');
        block(enclosing, keyword);
        continue;
      }
      // A statement on the line of its block's "{" is part of a one-line block.
      const oneLine =
        open !== null && enclosing !== null && keyword.line === open.line && keyword.file === open.file;
      const sameLine = (t: Token) => t.line === keyword.line && t.file === keyword.file;
      const args: Token[] = [];
      while (i < tokens.length) {
        const next = tokens[i] as Token;
        if (!sameLine(next) || isOpen(next) || isClose(next)) break;
        if (oneLine && enclosing !== null && !next.quoted && splitsAt(enclosing, next.text)) break;
        args.push(next);
        i++;
      }
      let body: Statement[] | null = null;
      if (isOpen(tokens[i])) {
        const brace = tokens[i] as Token;
        i++;
        body = block(keyword.text, brace);
      }
      statements.push({ keyword, args, block: body });
    }
    if (open !== null) diagnostics.error(open, `"{" of ${enclosing ?? 'a block'} is never closed`);
    return statements;
  }

  return block(null, null);
}
