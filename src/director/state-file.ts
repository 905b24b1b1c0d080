/**
 * A small JSON file in the daemon's state directory (drains, withdrawals), written whole on every
 * change, to a temporary name and then renamed over the old one, so a crash mid-write leaves the
 * previous version and never half a file. Errors come back as messages that name the file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';

/** The file's contents through `parse`; `empty` for a missing file. Rejects with a readable message. */
export async function readStateFile<T>(file: string, parse: (text: string) => T, empty: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw new Error(`${file}: cannot read: ${(err as Error).message}`);
  }
  try {
    return parse(text);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** Replaces `file` (in `dir`, created 0700 when missing) with `text`, mode 0600. */
export async function writeStateFile(dir: string, file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, file);
  } catch (err) {
    throw new Error(`${file}: cannot save: ${(err as Error).message}`);
  }
}
