/**
 * "did you mean" for unknown keys. Typos in configs are mostly one slip (a doubled, dropped or swapped
 * letter) or a spelling convention (`real-servers`, `realServers`), so the distance is
 * Damerau-Levenshtein (optimal string alignment) on names with case and `-`/`_` ignored, and a
 * suggestion is made only when it is close relative to the word's length: far guesses mislead.
 */

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(rows - 1, cols - 1);
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** The closest candidate, or null when none is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | null {
  // Keywords are short: a word much longer than any is no typo of one (and costs length² to compare).
  if (word.length > 64) return null;
  const w = normalize(word);
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(w, normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : null;
}
