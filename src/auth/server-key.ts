import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { ensurePrivateDir, tightenFile, warnTightened } from '../private-files.js';

export interface KeyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The server's own 32-byte key (docs/operations.md#the-server-key), for secrets that must be read back in clear: webhook
 * signing secrets and pending invitation links. `TOOKEN_SECRET_KEY` wins; otherwise a key is
 * generated once into the data directory with mode 0600 and reused on later starts.
 */
export function loadServerKey(
  config: Pick<Config, 'secretKey' | 'dataDir' | 'databaseUrl'>,
  log: KeyLog,
): Buffer {
  if (config.secretKey !== null) return Buffer.from(config.secretKey, 'base64');
  const file = path.join(config.dataDir, 'secret.key');
  const onTightened = warnTightened(log);
  ensurePrivateDir(config.dataDir, onTightened);
  if (existsSync(file)) {
    tightenFile(file, onTightened);
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  log.info(
    { file },
    'generated TOOKEN_SECRET_KEY into the data directory (mode 0600); back it up with the database',
  );
  if (!config.databaseUrl.startsWith('sqlite:')) {
    log.warn({}, 'with PostgreSQL every node needs the same TOOKEN_SECRET_KEY: set it explicitly');
  }
  return key;
}
