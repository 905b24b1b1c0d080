import { describe, expect, it } from 'vitest';
import {
  BODY_LIMIT,
  BODY_TOO_LARGE,
  CLOSED_BEFORE_RESPONSE,
  CLOSED_IN_BODY,
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

describe('HTTP response parser', () => {
  const lengthResponse = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
  const chunkedResponse =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nhello \r\nA\r\nthe server\r\n0\r\nX-Trailer: 1\r\n\r\n';

  it('reads a Content-Length body, however the bytes are cut', () => {
    for (const parts of splits(lengthResponse)) {
      expect(parse(parts, { eof: false })).toEqual({
        events: ['head 200', 'end'],
        body: 'hello',
        done: true,
      });
    }
  });

  it('decodes a chunked body, however the bytes are cut', () => {
    for (const parts of splits(chunkedResponse)) {
      expect(parse(parts, { eof: false })).toEqual({
        events: ['head 200', 'end'],
        body: 'hello the server',
        done: true,
      });
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
    expect(BODY_TOO_LARGE).toBe('HTTP response body larger than 4 MiB');
  });

  it('reads to the end of the connection when the body has no framing', () => {
    expect(parse(['HTTP/1.0 200 OK\r\n\r\nabc', 'def'])).toMatchObject({
      events: ['head 200', 'end'],
      body: 'abcdef',
    });
    expect(parse(['HTTP/1.0 200 OK\r\n\r\nabc'], { eof: false }).events).toEqual(['head 200']);
  });

  it('204 and 304 have no body; interim 1xx responses are skipped', () => {
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n'], { eof: false }).events).toEqual(['head 204', 'end']);
    expect(
      parse(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n'], { eof: false })
        .events,
    ).toEqual(['head 302', 'end']);
  });

  it('stops after the head when the caller has its verdict', () => {
    expect(parse([lengthResponse.slice(0, -3)], { eof: true, accept: false })).toEqual({
      events: ['head 200'],
      body: '',
      done: true,
    });
  });

  it('names a connection that closed early', () => {
    expect(parse([]).events).toEqual([`error ${CLOSED_BEFORE_RESPONSE}`]);
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Le']).events).toEqual([`error ${CLOSED_BEFORE_RESPONSE}`]);
    expect(parse([lengthResponse.slice(0, -2)]).events).toEqual(['head 200', `error ${CLOSED_IN_BODY}`]);
    expect(parse([chunkedResponse.slice(0, 60)]).events).toEqual(['head 200', `error ${CLOSED_IN_BODY}`]);
  });

  it('refuses what is not HTTP/1.x, and heads that never end', () => {
    expect(parse(['SSH-2.0-OpenSSH_9.2\r\n\r\n']).events).toEqual(['error malformed HTTP response']);
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n']).events).toEqual([
      'error malformed HTTP response',
    ]);
    expect(parse(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']).events).toEqual([
      'head 200',
      'error malformed HTTP response',
    ]);
    expect(parse(['HTTP/1.1 200 OK\r\n', `X-Big: ${'a'.repeat(20000)}`]).events).toEqual([
      'error HTTP response headers too large',
    ]);
  });
});
