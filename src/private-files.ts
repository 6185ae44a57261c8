import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

/** Called for each file or directory whose mode was wider than it may be, after tightening it. */
export type OnTightened = (file: string, previousMode: string) => void;

/** Reports each tightening as one warning naming the file. */
export function warnTightened(log: { warn(obj: object, msg: string): void }): OnTightened {
  return (file, previousMode) =>
    log.warn(
      { file, previous_mode: previousMode },
      'tightened permissions: other local users could read this; now only the owner can',
    );
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Removes every permission beyond `mode` from an existing `file`; false when it does not exist. */
function tighten(file: string, mode: number, onTightened: OnTightened): boolean {
  let current: number;
  try {
    current = statSync(file).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if ((current & ~mode) !== 0) {
    chmodSync(file, current & mode);
    onTightened(file, octal(current));
  }
  return true;
}

/**
 * A directory only its owner can enter (0700): created so, with any missing parent, or tightened
 * when it exists with a wider mode.
 */
export function ensurePrivateDir(dir: string, onTightened: OnTightened): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir, 0o700, onTightened);
}

/** Creates any missing directories on the way to `dir` with mode 0700; leaves existing ones alone. */
export function createPrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** A file only its owner can read or write (0600): created empty so, or tightened when wider. */
export function ensurePrivateFile(file: string, onTightened: OnTightened): void {
  if (tighten(file, 0o600, onTightened)) return;
  closeSync(openSync(file, 'a', 0o600));
}

/** Tightens `file` to 0600 if it exists; never creates it. */
export function tightenFile(file: string, onTightened: OnTightened): void {
  tighten(file, 0o600, onTightened);
}
