/**
 * The SMTP check's line reader and reply code, as keepalived's SMTP_CHECK has them
 * (keepalived/check/check_smtp.c). Pure: the probe (./smtp.ts) owns the connection.
 *
 * keepalived reads into a 512-byte buffer until it holds a newline, then judges the text before
 * the first newline and throws away whatever came after it (smtp_get_line_cb, smtp_get_line); a
 * buffer that fills without a newline is emptied and reading goes on (it logs "Buffer overflow").
 * The code is the line's first three digits, followed by the end of the line or a space
 * (smtp_get_status: strtoul, then `endptr - buff != 3 || (*endptr && *endptr != ' ')`). So a
 * multi-line reply ("220-…") and a bare "220\r" both read as no code, and fail the check.
 */

/** keepalived's SMTP_BUFF_MAX (check_smtp.h): one read of a line holds at most 511 bytes. */
export const SMTP_LINE_LIMIT = 511;

/** keepalived's SMTP_DEFAULT_HELO (check_smtp.h). */
export const SMTP_DEFAULT_HELO = 'smtpchecker.keepalived.org';

/** Collects bytes until a newline; bounded as keepalived's buffer is. */
export class SmtpLineReader {
  private buffered: Buffer[] = [];
  private size = 0;
  /** Times the buffer filled without a newline and was emptied. */
  overflows = 0;

  /** The line before the first newline once one has arrived (the rest is dropped), else null. */
  push(chunk: Uint8Array): string | null {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (data.length > 0) {
      const room = SMTP_LINE_LIMIT - this.size;
      const part = data.subarray(0, room);
      data = data.subarray(part.length);
      const nl = part.indexOf(0x0a);
      if (nl >= 0) {
        const line = Buffer.concat([...this.buffered, part.subarray(0, nl)]).toString('latin1');
        this.reset();
        return line;
      }
      this.buffered.push(part);
      this.size += part.length;
      if (this.size >= SMTP_LINE_LIMIT) {
        this.overflows++;
        this.reset();
      }
    }
    return null;
  }

  reset(): void {
    this.buffered = [];
    this.size = 0;
  }
}

/**
 * keepalived's smtp_get_status: the reply code, or -1. strtoul skips leading blanks and takes a
 * sign, but then the code must span exactly the first three characters, so neither passes.
 * A NUL in the line ends it, as it does the C string.
 */
export function smtpReplyCode(line: string): number {
  const text = line.split('\0', 1)[0] ?? '';
  const m = /^(\d{3})(.?)/s.exec(text);
  if (m === null) return -1;
  // More digits would have been taken by strtoul: "2200" is not "220".
  if (m[2] !== '' && m[2] !== ' ') return -1;
  return Number(m[1]);
}
