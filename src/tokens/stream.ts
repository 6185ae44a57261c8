import type { Clock } from '../clock.js';
import type { Notice } from '../cluster/notifier.js';

/**
 * Why the node ended a stream (docs/edge-verification.md#the-change-stream): the credential that
 * opened it changed (revoked, deleted, regenerated, rotated, updated: it is checked afresh when the
 * verifier reconnects), it expired, or the node may have missed a notice that changed it.
 */
export type EndReason = 'credential_changed' | 'credential_expired' | 'changes_missed';

/** What a change stream tells its verifier; `end` is the last event, the stream is closed with it. */
export type ChangeEvent =
  | { type: 'invalidate'; tokenIds: readonly string[] }
  | { type: 'reset' }
  | { type: 'end'; reason: EndReason };
export type ChangeListener = (event: ChangeEvent) => void;

/**
 * The credential a stream was opened with, so that the stream ends with it: an API key by the
 * digest its cluster notices name, a token by its id and the instant its secret stops working. A
 * dashboard session is announced by no notice: its stream ends only with the node.
 */
export type StreamCredential =
  | { kind: 'api_key'; digest: string }
  | { kind: 'token'; id: string; validUntil: number | null }
  | { kind: 'session' };

/** One open stream's subscription; `close` releases its place under the bounds. */
export interface ChangeSubscription {
  close(): void;
}

/** Opens a stream for a workspace, or null when the workspace's or the node's bound is reached. */
export type OpenChangeStream = (
  workspaceId: string,
  credential: StreamCredential,
  listener: ChangeListener,
) => ChangeSubscription | null;

export interface ChangeStreamLimits {
  perWorkspace: number;
  perNode: number;
}

/**
 * The node's open change streams, fed by its cluster notices (`relay`, wired in services.ts): a
 * token change is an `invalidate` for the streams of its workspace; a reset, or a change from a
 * node that names no tokens, is a `reset` for every stream. A change of the credential that opened
 * a stream ends it, as does that credential's expiry and a reset (which may hide such a change).
 */
export interface ChangeStreams {
  open: OpenChangeStream;
  relay(notice: Notice): void;
  count(): number;
}

/** setTimeout's longest delay; a later expiry is waited for in steps of it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface OpenStream {
  listener: ChangeListener;
  /** `api_key:<digest>` or `token:<id>`; null for a session. */
  credentialKey: string | null;
  /** When a token's secret stops working by itself; null when never (or not a token). */
  validUntil: number | null;
  end(reason: EndReason): void;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key) ?? new Set<V>();
  map.set(key, set.add(value));
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

const credentialKeyOf = (credential: StreamCredential): string | null =>
  credential.kind === 'api_key'
    ? `api_key:${credential.digest}`
    : credential.kind === 'token'
      ? `token:${credential.id}`
      : null;

export function createChangeStreams(limits: ChangeStreamLimits, clock: Clock): ChangeStreams {
  const byWorkspace = new Map<string, Set<OpenStream>>();
  const byCredential = new Map<string, Set<OpenStream>>();
  let total = 0;

  /** Ends the streams a credential opened (a copy: ending removes them from the set). */
  const endOpenedBy = (credentialKey: string) => {
    for (const stream of [...(byCredential.get(credentialKey) ?? [])]) {
      const expired = stream.validUntil !== null && clock() >= stream.validUntil;
      stream.end(expired ? 'credential_expired' : 'credential_changed');
    }
  };
  /**
   * After a notice that may have hidden any change: every stream gets `reset`; the streams of API
   * keys and tokens then end, since what was missed may have revoked their credential.
   */
  const missed = () => {
    for (const streams of [...byWorkspace.values()]) {
      for (const stream of [...streams]) {
        stream.listener({ type: 'reset' });
        if (stream.credentialKey !== null) stream.end('changes_missed');
      }
    }
  };

  return {
    open(workspaceId, credential, listener) {
      if (total >= limits.perNode || (byWorkspace.get(workspaceId)?.size ?? 0) >= limits.perWorkspace)
        return null;
      const credentialKey = credentialKeyOf(credential);
      const validUntil = credential.kind === 'token' ? credential.validUntil : null;
      let timer: NodeJS.Timeout | null = null;
      let open = true;
      const close = () => {
        if (!open) return;
        open = false;
        total -= 1;
        if (timer !== null) clearTimeout(timer);
        removeFrom(byWorkspace, workspaceId, stream);
        if (credentialKey !== null) removeFrom(byCredential, credentialKey, stream);
      };
      const stream: OpenStream = {
        listener,
        credentialKey,
        validUntil,
        end(reason) {
          if (!open) return;
          close();
          listener({ type: 'end', reason });
        },
      };
      addTo(byWorkspace, workspaceId, stream);
      if (credentialKey !== null) addTo(byCredential, credentialKey, stream);
      total += 1;
      if (validUntil !== null) {
        // One timer, re-armed only when the clock is not there yet (a wait longer than setTimeout
        // allows, or a clock set back). It never fires within `open`, whose caller is not ready yet.
        const arm = () => {
          const left = Math.min(Math.max(validUntil - clock(), 0), MAX_TIMER_MS);
          timer = setTimeout(() => (clock() >= validUntil ? stream.end('credential_expired') : arm()), left);
          timer.unref();
        };
        arm();
      }
      return { close };
    },
    relay(notice) {
      switch (notice.type) {
        case 'reset':
          return missed();
        case 'credentials.changed':
          for (const digest of notice.digests) endOpenedBy(`api_key:${digest}`);
          return;
        case 'token.changed': {
          if (notice.workspaceId === undefined || notice.tokenIds === undefined) return missed();
          for (const id of notice.tokenIds) endOpenedBy(`token:${id}`);
          if (notice.tokenIds.length === 0) return;
          const streams = byWorkspace.get(notice.workspaceId);
          if (streams === undefined) return;
          const event: ChangeEvent = { type: 'invalidate', tokenIds: notice.tokenIds };
          for (const stream of streams) stream.listener(event);
          return;
        }
        case 'workspace.changed':
          return;
      }
    },
    count: () => total,
  };
}
