/**
 * The one HTTP response parser, for HTTP and HTTPS checks alike: incremental, for the one HTTP/1.x
 * response a check reads: the status line, the two headers that frame the body (Content-Length,
 * Transfer-Encoding: chunked) and the body, decoded (chunked transfer undone, so a digest is over
 * what `curl | md5sum` sees). Everything else in the head is skipped: a check judges the status
 * and the body, nothing more. No I/O: bytes in, callbacks out, so the framing rules are tested on
 * byte strings alone.
 *
 * Interim 1xx responses are skipped (the final response follows them). 204, 304 and HEAD-less
 * responses with neither length nor chunking: 204/304 have no body; otherwise the body runs to
 * the end of the connection (we always send `Connection: close`).
 */

export interface ResponseHandlers {
  /** The final response's status; return false to stop (the verdict is made, the body is not needed). */
  onHead(status: number): boolean;
  /** Body bytes, decoded; only called when wanted. */
  onBody?: (chunk: Buffer) => void;
  /** The whole body has arrived. */
  onEnd(): void;
  /** The response cannot be read: `reason` says why, in an operator's words. */
  onError(reason: string): void;
}

/** Longest head (status line, headers and the blank line) read before giving up on a server. */
export const HEAD_LIMIT = 16384;
/** Longest chunk-size line, CRLF included. */
export const LINE_LIMIT = 1024;
/**
 * Most body bytes read: a health page is small, and a server that streams without end must not
 * cost the director more than this per check.
 */
export const BODY_LIMIT = 4 * 1024 * 1024;

export const CLOSED_BEFORE_RESPONSE = 'connection closed before the response';
export const CLOSED_IN_BODY = 'connection closed in the body';
export const MALFORMED = 'malformed HTTP response';
export const HEAD_TOO_LARGE = 'HTTP response headers too large';
export const BODY_TOO_LARGE = `HTTP response body larger than ${BODY_LIMIT / 1024 / 1024} MiB`;

/** Where the parser is in the response. */
const State = { Head: 0, Length: 1, ChunkSize: 2, ChunkData: 3, UntilClose: 4, Done: 5 } as const;
type State = (typeof State)[keyof typeof State];

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;

export class ResponseParser {
  private state: State = State.Head;
  private pending: Buffer | null = null;
  private remaining = 0;
  private bodyBytes = 0;
  /** A chunk's data was read; its CRLF comes before the next size line. */
  private afterChunk = false;

  constructor(private readonly handlers: ResponseHandlers) {}

  /** True once the verdict needs nothing more from the connection. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** True while the head is still being read. */
  get inHead(): boolean {
    return this.state === State.Head;
  }

  push(chunk: Buffer): void {
    let data: Buffer = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    while (data.length > 0 && this.state !== State.Done) {
      switch (this.state) {
        case State.Head: {
          // The limit counts the blank line too, and holds however the bytes were cut.
          const end = data.indexOf(CRLFCRLF);
          if (end < 0 ? data.length > HEAD_LIMIT : end + 4 > HEAD_LIMIT) {
            this.fail(HEAD_TOO_LARGE);
            return;
          }
          if (end < 0) {
            this.pending = data;
            return;
          }
          const head = data.toString('latin1', 0, end);
          data = data.subarray(end + 4);
          this.head(head);
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, data.length);
          this.body(take === data.length ? data : data.subarray(0, take));
          if (this.done) return;
          this.remaining -= take;
          data = data.subarray(take);
          if (this.remaining === 0) this.end();
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, data.length);
          this.body(take === data.length ? data : data.subarray(0, take));
          if (this.done) return;
          this.remaining -= take;
          data = data.subarray(take);
          if (this.remaining === 0) {
            this.state = State.ChunkSize;
            this.afterChunk = true;
          }
          break;
        }
        case State.ChunkSize: {
          const eol = data.indexOf(CRLF);
          if (eol < 0 ? data.length > LINE_LIMIT : eol + 2 > LINE_LIMIT) {
            this.fail(MALFORMED);
            return;
          }
          if (eol < 0) {
            this.pending = data;
            return;
          }
          const line = data.toString('latin1', 0, eol);
          data = data.subarray(eol + 2);
          if (this.afterChunk) {
            this.afterChunk = false;
            if (line !== '') this.fail(MALFORMED);
            break;
          }
          const size = line.split(';', 1)[0]?.trim() ?? '';
          if (!/^[0-9a-fA-F]{1,12}$/.test(size)) {
            this.fail(MALFORMED);
            break;
          }
          this.remaining = Number.parseInt(size, 16);
          // The last chunk: trailers, if any, change nothing a check looks at.
          if (this.remaining === 0) this.end();
          else this.state = State.ChunkData;
          break;
        }
        case State.UntilClose:
          this.body(data);
          return;
      }
    }
  }

  /** The connection ended (FIN). */
  eof(): void {
    if (this.state === State.Done) return;
    if (this.state === State.UntilClose) this.end();
    else this.fail(this.state === State.Head ? CLOSED_BEFORE_RESPONSE : CLOSED_IN_BODY);
  }

  private head(text: string): void {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0] ?? '');
    if (status === null) {
      this.fail(MALFORMED);
      return;
    }
    const code = Number(status[1]);
    // An interim response (100 Continue, 103 Early Hints): the real one follows.
    if (code >= 100 && code < 200 && code !== 101) return;
    let length: number | null = null;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== null && length !== Number(value))) {
          this.fail(MALFORMED);
          return;
        }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').at(-1)?.trim() === 'chunked';
      }
    }
    if (!this.handlers.onHead(code)) {
      this.state = State.Done;
      return;
    }
    if (code === 204 || code === 304) this.end();
    else if (chunked) this.state = State.ChunkSize;
    else if (length !== null) {
      this.remaining = length;
      if (length === 0) this.end();
      else this.state = State.Length;
    } else this.state = State.UntilClose;
  }

  private body(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > BODY_LIMIT) this.fail(BODY_TOO_LARGE);
    else this.handlers.onBody?.(chunk);
  }

  private end(): void {
    this.state = State.Done;
    this.handlers.onEnd();
  }

  private fail(reason: string): void {
    this.state = State.Done;
    this.handlers.onError(reason);
  }
}
