import type { Workspace } from '../auth/context.js';
import { decodeCustomScopes } from '../db/json.js';

/** A workspace's settings: the row with its custom scopes decoded (times as epoch ms until the view). */
export type Settings = Omit<Workspace, 'custom_scopes' | 'require_two_factor'> & {
  custom_scopes: string[];
  require_two_factor: boolean;
};

/** The settings of a workspace row, its custom scopes and flags decoded. */
export function settingsOf(ws: Workspace): Settings {
  return {
    ...ws,
    custom_scopes: decodeCustomScopes(ws.custom_scopes),
    require_two_factor: Number(ws.require_two_factor) === 1,
  };
}
