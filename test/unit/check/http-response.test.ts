/**
 * The one HTTP response parser (src/check/http-response.ts), on byte strings: every verdict must be
 * the same however the network cuts the response, so each case is fed whole, in every two-piece
 * cut, byte by byte and (for the framing cases) in every three-piece cut.
 */
import { describe, expect, it } from 'vitest';
import {
  BODY_LIMIT,
  BODY_TOO_LARGE,
  CLOSED_BEFORE_RESPONSE,
  CLOSED_IN_BODY,
  HEAD_LIMIT,
  HEAD_TOO_LARGE,
  LINE_LIMIT,
  MALFORMED,
  ResponseParser,
} from '../../../src/check/http-response.js';

/** Feeds `parts` (strings, latin1) and then, unless `eof` is false, the end of the connection. */
function parse(parts: string[], { eof = true, accept = true } = {}) {
  const events: string[] = [];
  let body = '';
  const parser = new ResponseParser({
    onHead: (status) => {
      events.push(`head ${status}`);
      return accept;
    },
    onBody: (chunk) => {
      body += chunk.toString('latin1');
    },
    onEnd: () => events.push('end'),
    onError: (reason) => events.push(`error ${reason}`),
  });
  for (const p of parts) parser.push(Buffer.from(p, 'latin1'));
  if (eof) parser.eof();
  return { events, body, done: parser.done };
}

/** Every way to cut `text` in two. */
const splits = (text: string) =>
  Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);

/** Every way to cut `text` in three. */
const threeWaySplits = (text: string) =>
  splits(text).flatMap(([head = '', tail = '']) => splits(tail).map((rest) => [head, ...rest]));

/** One byte at a time. */
const bytes = (text: string) => [...text];

/** The whole text, every two- and three-piece cut, and byte by byte. */
const everyCut = (text: string) => [[text], ...splits(text), ...threeWaySplits(text), bytes(text)];

describe('HTTP response parser', () => {
  const lengthResponse = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
  const chunkedResponse =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nhello \r\nA\r\nthe server\r\n0\r\nX-Trailer: 1\r\n\r\n';

  it('reads a Content-Length body, however the bytes are cut', () => {
    for (const parts of everyCut(lengthResponse)) {
      expect(parse(parts, { eof: false })).toEqual({
        events: ['head 200', 'end'],
        body: 'hello',
        done: true,
      });
    }
  });

  it('decodes a chunked body, however the bytes are cut', () => {
    for (const parts of everyCut(chunkedResponse)) {
      expect(parse(parts, { eof: false })).toEqual({
        events: ['head 200', 'end'],
        body: 'hello the server',
        done: true,
      });
    }
  });

  it('reads an unframed body to the end of the connection, however the bytes are cut', () => {
    for (const parts of everyCut('HTTP/1.0 200 OK\r\nServer: x\r\n\r\nabc\r\ndef')) {
      expect(parse(parts)).toEqual({ events: ['head 200', 'end'], body: 'abc\r\ndef', done: true });
    }
    expect(parse(['HTTP/1.0 200 OK\r\n\r\nabc'], { eof: false }).events).toEqual(['head 200']);
  });

  it('skips interim 1xx responses, however the bytes are cut', () => {
    const response =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 2\r\n\r\nok';
    for (const parts of everyCut(response)) {
      expect(parse(parts, { eof: false })).toEqual({ events: ['head 302', 'end'], body: 'ok', done: true });
    }
  });

  it('ignores bytes after the end of a framed body', () => {
    expect(parse([`${lengthResponse}EXTRA`, 'MORE'])).toEqual({
      events: ['head 200', 'end'],
      body: 'hello',
      done: true,
    });
    expect(parse([`${chunkedResponse}garbage`])).toMatchObject({ events: ['head 200', 'end'] });
  });

  it('204 and 304 have no body', () => {
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n'], { eof: false }).events).toEqual(['head 204', 'end']);
    expect(parse(['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n'], { eof: false }).events).toEqual(
      ['head 304', 'end'],
    );
  });

  it('reads header names in any case and values with surrounding blanks', () => {
    expect(parse(['HTTP/1.1 200 OK\r\ncontent-LENGTH:   3  \r\n\r\nabcdef'], { eof: false })).toMatchObject({
      events: ['head 200', 'end'],
      body: 'abc',
    });
    expect(
      parse(['HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n'], { eof: false }),
    ).toMatchObject({ events: ['head 200', 'end'], body: 'z' });
  });

  it('frames by the last transfer coding, and chunked wins over Content-Length', () => {
    expect(
      parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'], {
        eof: false,
      }),
    ).toMatchObject({ events: ['head 200', 'end'], body: 'ab' });
    // Not chunked last: the body runs to the end of the connection.
    expect(parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nab'])).toMatchObject({
      events: ['head 200', 'end'],
      body: '2\r\nab',
    });
    expect(
      parse(
        ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n'],
        {
          eof: false,
        },
      ),
    ).toMatchObject({ events: ['head 200', 'end'], body: 'q' });
  });

  it('accepts repeated equal Content-Lengths and refuses different or invalid ones', () => {
    expect(
      parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'], { eof: false }).events,
    ).toEqual(['head 200', 'end']);
    for (const value of ['2\r\nContent-Length: 3', '-1', '+2', '0x10', '1 2', '', '1234567890123456']) {
      expect(parse([`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\nok`]).events, value).toEqual([
        `error ${MALFORMED}`,
      ]);
    }
  });

  it('refuses status lines that are not HTTP/1.0 or 1.1 with a three-digit status', () => {
    const bad = [
      'SSH-2.0-OpenSSH_9.2',
      'HTTP/2 200 OK',
      'HTTP/1.2 200 OK',
      'http/1.1 200 OK',
      ' HTTP/1.1 200 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 200OK',
      'HTTP/1.1 2x0 OK',
      'HTTP/1.1',
      '',
    ];
    for (const line of bad) {
      expect(parse([`${line}\r\nContent-Length: 0\r\n\r\n`]).events, JSON.stringify(line)).toEqual([
        `error ${MALFORMED}`,
      ]);
    }
    for (const [line, status] of [
      ['HTTP/1.1 200', 'head 200'],
      ['HTTP/1.0 404 Not Found', 'head 404'],
      ['HTTP/1.1 599 ', 'head 599'],
    ] as const) {
      expect(parse([`${line}\r\nContent-Length: 0\r\n\r\n`], { eof: false }).events).toEqual([status, 'end']);
    }
  });

  it('refuses malformed chunk framing', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const body of ['zz\r\n', '\r\n', '-1\r\n', '1234567890abc\r\n', '2\r\nabX\r\n', '2\r\nab\r\n\r\n']) {
      expect(parse([head + body]).events, JSON.stringify(body)).toEqual(['head 200', `error ${MALFORMED}`]);
    }
  });

  it('bounds the head at HEAD_LIMIT bytes, blank line included, however the bytes are cut', () => {
    const headOf = (size: number) => {
      const start = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ';
      return `${start}${'a'.repeat(size - start.length - 4)}\r\n\r\n`;
    };
    const fits = headOf(HEAD_LIMIT);
    const over = headOf(HEAD_LIMIT + 1);
    expect(fits.length).toBe(HEAD_LIMIT);
    for (const parts of [[fits], bytes(fits), ...splits(fits).filter((_, i) => i % 997 === 0)]) {
      expect(parse(parts, { eof: false }).events).toEqual(['head 200', 'end']);
    }
    for (const parts of [[over], bytes(over), ...splits(over).filter((_, i) => i % 997 === 0)]) {
      expect(parse(parts, { eof: false }).events).toEqual([`error ${HEAD_TOO_LARGE}`]);
    }
    // A head that never ends is refused once it passes the limit, not read on forever.
    const endless = parse(['HTTP/1.1 200 OK\r\n', `X-Big: ${'a'.repeat(HEAD_LIMIT)}`], { eof: false });
    expect(endless).toEqual({ events: [`error ${HEAD_TOO_LARGE}`], body: '', done: true });
  });

  it('bounds a chunk-size line at LINE_LIMIT bytes, CRLF included', () => {
    const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    const lineOf = (size: number) => `1;${'e'.repeat(size - 4)}\r\n`;
    const fits = `${head}${lineOf(LINE_LIMIT)}x\r\n0\r\n\r\n`;
    const over = `${head}${lineOf(LINE_LIMIT + 1)}x\r\n0\r\n\r\n`;
    for (const parts of [[fits], bytes(fits)]) {
      expect(parse(parts, { eof: false })).toMatchObject({ events: ['head 200', 'end'], body: 'x' });
    }
    for (const parts of [[over], bytes(over)]) {
      expect(parse(parts, { eof: false }).events).toEqual(['head 200', `error ${MALFORMED}`]);
    }
  });

  it('stops at BODY_LIMIT bytes of body, framed or not', () => {
    const limit = 'x'.repeat(BODY_LIMIT);
    expect(
      parse([`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_LIMIT}\r\n\r\n`, limit], { eof: false }).events,
    ).toEqual(['head 200', 'end']);
    const over = parse([`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_LIMIT + 1}\r\n\r\n`, limit, 'x'], {
      eof: false,
    });
    expect(over.events).toEqual(['head 200', `error ${BODY_TOO_LARGE}`]);
    expect(over.body.length).toBe(BODY_LIMIT);
    expect(parse(['HTTP/1.0 200 OK\r\n\r\n', limit, 'xy']).events).toEqual([
      'head 200',
      `error ${BODY_TOO_LARGE}`,
    ]);
    expect(
      parse([
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(BODY_LIMIT + 1).toString(16)}\r\n`,
        limit,
        'x',
      ]).events,
    ).toEqual(['head 200', `error ${BODY_TOO_LARGE}`]);
    expect(BODY_TOO_LARGE).toBe('HTTP response body larger than 4 MiB');
  });

  it('stops after the head when the caller has its verdict', () => {
    expect(parse([lengthResponse.slice(0, -3)], { eof: true, accept: false })).toEqual({
      events: ['head 200'],
      body: '',
      done: true,
    });
  });

  it('names a connection that closed early, wherever it closed', () => {
    expect(parse([]).events).toEqual([`error ${CLOSED_BEFORE_RESPONSE}`]);
    // Cut anywhere before the end of the head: before the response; anywhere in the body: in it.
    const headLength = lengthResponse.indexOf('\r\n\r\n') + 4;
    for (let i = 0; i < lengthResponse.length; i++) {
      const events = parse(bytes(lengthResponse.slice(0, i))).events;
      expect(events, `cut at ${i}`).toEqual(
        i < headLength ? [`error ${CLOSED_BEFORE_RESPONSE}`] : ['head 200', `error ${CLOSED_IN_BODY}`],
      );
    }
    const chunkedHead = chunkedResponse.indexOf('\r\n\r\n') + 4;
    const lastChunkEnd = chunkedResponse.indexOf('0\r\n') + 3;
    for (let i = chunkedHead; i < lastChunkEnd; i++) {
      expect(parse([chunkedResponse.slice(0, i)]).events, `cut at ${i}`).toEqual([
        'head 200',
        `error ${CLOSED_IN_BODY}`,
      ]);
    }
  });

  it('says nothing more after its verdict', () => {
    const events: string[] = [];
    const parser = new ResponseParser({
      onHead: () => true,
      onEnd: () => events.push('end'),
      onError: (reason) => events.push(reason),
    });
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    parser.push(Buffer.from('HTTP/1.1 500 Oops\r\n\r\n'));
    parser.eof();
    expect(events).toEqual(['end']);
  });
});
