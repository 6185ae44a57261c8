import type { Notice } from '../cluster/notifier.js';

/** What a change stream tells its verifier (docs/edge-verification.md#the-change-stream). */
export type ChangeEvent = { type: 'invalidate'; tokenIds: readonly string[] } | { type: 'reset' };
export type ChangeListener = (event: ChangeEvent) => void;

/** One open stream's subscription; `close` releases its place under the bounds. */
export interface ChangeSubscription {
  close(): void;
}

/** Opens a stream for a workspace, or null when the workspace's or the node's bound is reached. */
export type OpenChangeStream = (workspaceId: string, listener: ChangeListener) => ChangeSubscription | null;

export interface ChangeStreamLimits {
  perWorkspace: number;
  perNode: number;
}

/**
 * The node's open change streams, fed by its cluster notices (`relay`, wired in services.ts): a
 * token change is an `invalidate` for the streams of its workspace; a reset, or a change from a
 * node that names no tokens, is a `reset` for every stream.
 */
export interface ChangeStreams {
  open: OpenChangeStream;
  relay(notice: Notice): void;
  count(): number;
}

export function createChangeStreams(limits: ChangeStreamLimits): ChangeStreams {
  const byWorkspace = new Map<string, Set<ChangeListener>>();
  let total = 0;
  const everyone = (event: ChangeEvent) => {
    for (const listeners of byWorkspace.values()) for (const listener of listeners) listener(event);
  };
  return {
    open(workspaceId, listener) {
      const listeners = byWorkspace.get(workspaceId) ?? new Set<ChangeListener>();
      if (total >= limits.perNode || listeners.size >= limits.perWorkspace) return null;
      byWorkspace.set(workspaceId, listeners.add(listener));
      total += 1;
      let open = true;
      return {
        close() {
          if (!open) return;
          open = false;
          total -= 1;
          listeners.delete(listener);
          if (listeners.size === 0 && byWorkspace.get(workspaceId) === listeners)
            byWorkspace.delete(workspaceId);
        },
      };
    },
    relay(notice) {
      if (notice.type === 'reset') return everyone({ type: 'reset' });
      if (notice.type !== 'token.changed') return;
      if (notice.workspaceId === undefined || notice.tokenIds === undefined)
        return everyone({ type: 'reset' });
      if (notice.tokenIds.length === 0) return;
      const listeners = byWorkspace.get(notice.workspaceId);
      if (listeners === undefined) return;
      const event: ChangeEvent = { type: 'invalidate', tokenIds: notice.tokenIds };
      for (const listener of listeners) listener(event);
    },
    count: () => total,
  };
}
