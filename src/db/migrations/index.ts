import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './001-foundation.js';

/** Migrations are listed here (not read from disk) so they work from `src` and from `dist`. */
const MIGRATIONS: Record<string, Migration> = {
  '001-foundation': foundation,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
