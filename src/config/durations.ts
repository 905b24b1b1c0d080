/**
 * Durations as operators write them: `"1s"`, `"500ms"`, `"0.1s"`, `"2m"`, `"1m30s"`, or a bare number
 * of seconds. Everything becomes whole milliseconds here; fields kept in seconds (kernel timeouts,
 * persistence) check for whole seconds where they are read. Decimal text is scaled without floating
 * point drift, so `0.1s` is exactly 100 ms.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const PART = new RegExp(`${NUMBER}(ms|s|m|h)`, 'y');
const BARE_NUMBER = new RegExp(`^${NUMBER}$`);

/** The same syntax as one regular expression (for the JSON Schema): a bare number or unit parts. */
export const DURATION_PATTERN = String.raw`^\s*(?:${NUMBER}|(?:${NUMBER}(?:ms|s|m|h))+)\s*$`;

export type DurationParse =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly reason: 'syntax' | 'negative' | 'sub-millisecond' };

/** `digits` (a non-negative decimal) times `factor`, exact for up to 6 decimals of the result. */
function scale(digits: string, factor: number): number {
  return Math.round(Number(digits) * factor * 1e6) / 1e6;
}

function finish(ms: number): DurationParse {
  if (!Number.isFinite(ms)) return { ok: false, reason: 'syntax' };
  if (!Number.isInteger(ms)) return { ok: false, reason: 'sub-millisecond' };
  return { ok: true, ms };
}

export function parseDuration(input: string | number): DurationParse {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, reason: 'syntax' };
    if (input < 0) return { ok: false, reason: 'negative' };
    return finish(Math.round(input * 1000 * 1e6) / 1e6);
  }
  const text = input.trim();
  if (text.startsWith('-')) return { ok: false, reason: 'negative' };
  if (BARE_NUMBER.test(text)) return finish(scale(text, 1000));
  let ms = 0;
  let offset = 0;
  while (offset < text.length) {
    PART.lastIndex = offset;
    const match = PART.exec(text);
    const digits = match?.[1];
    const factor = UNIT_MS[match?.[2] ?? ''];
    if (match === null || digits === undefined || factor === undefined)
      return { ok: false, reason: 'syntax' };
    ms += scale(digits, factor);
    offset = PART.lastIndex;
  }
  if (text.length === 0) return { ok: false, reason: 'syntax' };
  return finish(Math.round(ms * 1e6) / 1e6);
}

/** The shortest exact text for a duration, for messages: `1500ms`, `2s`, `5m`. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
