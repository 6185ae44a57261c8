import type { RequestMeta } from '../audit/service.js';
import { parseSecret } from '../auth/credentials.js';
import type { WorkspacesTable } from '../db/schema.js';

/** A live credential found by its secret: enough to act on it, never the secret itself. */
export interface FoundCredential {
  id: string;
  workspaceId: string;
}

/** What the leak report needs of the feature that owns one kind of credential. */
export interface LeakTarget {
  /** The live credential a secret opens, read from the database, or null. */
  findLive(secret: string): Promise<FoundCredential | null>;
  /** Audits the leak by the system and, when `revoke`, ends the credential on every node. */
  recordLeak(found: FoundCredential, revoke: boolean, meta: RequestMeta): Promise<void>;
}

export interface LeakService {
  /** Acts on every live secret among `secrets`; says nothing about which were (docs/tokens.md#leaked-secrets). */
  report(secrets: readonly string[], meta: RequestMeta): Promise<void>;
}

export function createLeakService({
  tokens,
  apiKeys,
  leakPolicyOf,
}: {
  tokens: LeakTarget;
  apiKeys: LeakTarget;
  /** The workspace's `leak_policy` setting. */
  leakPolicyOf(workspaceId: string): Promise<WorkspacesTable['leak_policy']>;
}): LeakService {
  return {
    async report(secrets, meta) {
      for (const secret of new Set(secrets)) {
        // A string of neither format, or with a wrong checksum, costs no look-up.
        const kind = parseSecret(secret);
        if (kind === null) continue;
        const target = kind === 'token' ? tokens : apiKeys;
        const found = await target.findLive(secret);
        if (found === null) continue;
        const policy = await leakPolicyOf(found.workspaceId);
        await target.recordLeak(found, policy === 'revoke', meta);
      }
    },
  };
}
