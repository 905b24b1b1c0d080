/** The keepalived.conf reader: words, comments, quotes, brace styles, one-line blocks, globs. */
import { describe, expect, it } from 'vitest';
import { Diagnostics, formatDiagnostic } from '../../../../src/config/keepalived/diagnostics.js';
import { expandBraces, glob } from '../../../../src/config/keepalived/glob.js';
import { parse, type Statement } from '../../../../src/config/keepalived/parser.js';
import { tokenize } from '../../../../src/config/keepalived/tokenizer.js';
import { splitCommand } from '../../../../src/config/keepalived/values.js';
import { memoryFs } from './helpers.js';

const split = (enclosing: string, word: string) =>
  ({ url: ['path', 'digest', 'status_code'], TCP_CHECK: ['connect_timeout', 'connect_port'] })[
    enclosing
  ]?.includes(word) ?? false;

/** A compact picture of the tree: `keyword(arg,arg){...}` with line numbers where asked. */
function shape(statements: readonly Statement[], lines = false): string {
  return statements
    .map((s) => {
      const head = `${s.keyword.text}${lines ? `@${s.keyword.line}` : ''}`;
      const args = s.args.length > 0 ? `(${s.args.map((a) => a.text).join(',')})` : '';
      const block = s.block === null ? '' : `{${shape(s.block, lines)}}`;
      return `${head}${args}${block}`;
    })
    .join(' ');
}

function read(text: string): { tree: string; messages: string[]; statements: Statement[] } {
  const d = new Diagnostics();
  const statements = parse(tokenize(text, 'k.conf', d), d, split);
  return { tree: shape(statements), messages: d.list.map(formatDiagnostic), statements };
}

describe('tokenizer and parser', () => {
  it('drops ! and # comments anywhere on a line, but not inside quotes', () => {
    const { tree, messages } = read(
      ['! header', 'global_defs { # opens', '  router_id lb1 ! trailing', '  lvs_id "a # b ! c"', '}'].join(
        '\n',
      ),
    );
    expect(messages).toEqual([]);
    expect(tree).toBe('global_defs{router_id(lb1) lvs_id(a # b ! c)}');
  });

  it('keeps blanks inside quotes, joins quoted parts of one word and decodes escapes', () => {
    const { statements } = read(`notify_master "/bin/x 'a b'" ab" c "d '\\x41\\t\\\\'`);
    expect(statements[0]?.args.map((a) => a.text)).toEqual(["/bin/x 'a b'", 'ab c d', 'A\t\\']);
    expect(splitCommand(statements[0]?.args.slice(0, 1) ?? [])).toEqual(['/bin/x', 'a b']);
  });

  it('takes "{" on the same line, glued to a word, or on the next line', () => {
    const { tree, messages } = read(
      ['vrrp_instance VI_1{', '  state MASTER', '}', 'vrrp_instance VI_2', '{', '  state BACKUP }'].join(
        '\n',
      ),
    );
    expect(messages).toEqual([]);
    expect(tree).toBe('vrrp_instance(VI_1){state(MASTER)} vrrp_instance(VI_2){state(BACKUP)}');
  });

  it('splits one-line blocks at the keywords of the block, nested too', () => {
    const { tree } = read(
      [
        'HTTP_GET {',
        '  url { path /x digest abc status_code 200 }',
        '  TCP_CHECK { connect_timeout 3 connect_port 80 }',
        '  connect_timeout 2 path stays',
        '}',
      ].join('\n'),
    );
    expect(tree).toBe(
      'HTTP_GET{url{path(/x) digest(abc) status_code(200)} TCP_CHECK{connect_timeout(3) connect_port(80)} connect_timeout(2,path,stays)}',
    );
  });

  it('keeps the line of every statement', () => {
    const { statements } = read(['', 'a {', '  b 1', '', '  c { d }', '}'].join('\n'));
    expect(shape(statements, true)).toBe('a@2{b@3(1) c@5{d@5}}');
  });

  it('reports brace and quote errors with their positions and keeps going', () => {
    const { messages } = read(['a {', '  b "open', '}', '}', 'c {', '  d 1'].join('\n'));
    expect(messages).toEqual([
      'k.conf:2:5: error: unterminated " quote',
      'k.conf:4:1: error: unmatched "}"',
      'k.conf:5:3: error: "{" of c is never closed',
    ]);
  });
});

describe('include globs', () => {
  const fs = memoryFs({
    '/etc/k/conf.d/10-a.conf': '',
    '/etc/k/conf.d/02-b.conf': '',
    '/etc/k/conf.d/.hidden.conf': '',
    '/etc/k/conf.d/README': '',
    '/etc/k/other/x.conf': '',
  });

  it('matches *, ? and [...] in a segment, sorted, without dot files', () => {
    expect(glob('/etc/k/conf.d/*.conf', fs)).toEqual(['/etc/k/conf.d/02-b.conf', '/etc/k/conf.d/10-a.conf']);
    expect(glob('/etc/k/conf.d/?[0-1]-*', fs)).toEqual(['/etc/k/conf.d/10-a.conf']);
    expect(glob('/etc/k/conf.d/[!1]?-*', fs)).toEqual(['/etc/k/conf.d/02-b.conf']);
    expect(glob('/etc/k/*/x.conf', fs)).toEqual(['/etc/k/other/x.conf']);
    expect(glob('/etc/k/conf.d/*.yaml', fs)).toEqual([]);
  });

  it('expands csh brace lists, in their order', () => {
    expect(expandBraces('{foo/{,cat,dog},bar}')).toEqual(['foo/', 'foo/cat', 'foo/dog', 'bar']);
    expect(glob('/etc/k/{other/x,conf.d/10-a}.conf', fs)).toEqual([
      '/etc/k/other/x.conf',
      '/etc/k/conf.d/10-a.conf',
    ]);
  });
});
