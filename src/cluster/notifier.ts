import { sql } from 'kysely';
import pg from 'pg';
import { type Clock, systemClock } from '../clock.js';
import type { DatabaseHandle } from '../db/database.js';
import { CorruptJsonError, decodeJson, isJsonObject, isStringArray } from '../db/json.js';
import type { Db, Executor, Tx } from '../db/schema.js';
import { newId } from '../ids.js';

/**
 * A cache-invalidation notice. Carries digests and ids only, never a secret. A token change names
 * the workspace and the tokens too, for the change streams of in-process verifiers; nodes from
 * before these fields send digests alone, which a stream relays as a reset.
 */
export type Notice =
  | { type: 'token.changed'; digests: string[]; workspaceId?: string; tokenIds?: string[] }
  | { type: 'credentials.changed'; digests: string[] }
  | { type: 'workspace.changed'; ids: string[] }
  | { type: 'reset' };

/**
 * Told of each notice; `echo` is true for this node's own notice heard back through the database,
 * after `applyLocally` already applied it (caches drop again; relays need not repeat it).
 */
export type NoticeHandler = (notice: Notice, echo: boolean) => void;

/** A notice as another node sent it (a NOTIFY payload). */
export function decodeNotice(text: string): Notice {
  return decodeNoticeMessage(text).notice;
}

/** A NOTIFY payload: the notice, and which node sent it when (absent from nodes before these fields). */
export interface NoticeMessage {
  notice: Notice;
  from: string | null;
  sentAt: number | null;
}

export function decodeNoticeMessage(text: string): NoticeMessage {
  const value = decodeJson(text, 'cluster notice');
  if (isJsonObject(value)) {
    const from = typeof value.from === 'string' ? value.from : null;
    const sentAt = typeof value.sent_at === 'number' && Number.isFinite(value.sent_at) ? value.sent_at : null;
    const notice = knownNotice(value);
    if (notice !== null) return { notice, from, sentAt };
  }
  throw new CorruptJsonError('cluster notice', 'not a notice of a known type');
}

function knownNotice(value: Record<string, unknown>): Notice | null {
  switch (value.type) {
    case 'reset':
      return { type: 'reset' };
    case 'token.changed': {
      if (!isStringArray(value.digests)) return null;
      const { workspaceId, tokenIds } = value;
      return typeof workspaceId === 'string' && isStringArray(tokenIds)
        ? { type: value.type, digests: value.digests, workspaceId, tokenIds }
        : { type: value.type, digests: value.digests };
    }
    case 'credentials.changed':
      return isStringArray(value.digests) ? { type: value.type, digests: value.digests } : null;
    case 'workspace.changed':
      return isStringArray(value.ids) ? { type: value.type, ids: value.ids } : null;
    default:
      return null;
  }
}

const CHANNEL = 'tooken_invalidate';
const MAX_PAYLOAD = 7900;
const LISTEN_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Tells every node that cached state changed. The change's transaction calls `publish`, which on
 * PostgreSQL issues `pg_notify` (delivered to all listeners only after commit); the caller then
 * applies the notice locally with `applyLocally` before it answers, so its own node never serves
 * stale state. A lost connection is re-established and then answered with a `reset` (drop all
 * caches), since notices sent meanwhile are gone.
 */
export interface Notifier {
  publish(tx: Executor, notice: Notice): Promise<void>;
  applyLocally(notice: Notice): void;
  subscribe(handler: NoticeHandler): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How long another node's notice took from its transaction to being applied here, in seconds. */
export type NoticeDelayRecorder = (seconds: number) => void;

/**
 * The notifier a database calls for: in-process alone where no other node can share it, else one
 * that listens on the database for the other nodes' notices.
 */
export function createNotifier(
  database: Pick<DatabaseHandle, 'adapter'>,
  onError: (error: unknown) => void,
  onDelay: NoticeDelayRecorder = () => {},
): Notifier {
  const { listenUrl } = database.adapter;
  return listenUrl === null ? createLocalNotifier() : new PostgresNotifier(listenUrl, onError, onDelay);
}

export function createLocalNotifier(): Notifier {
  const handlers: NoticeHandler[] = [];
  return {
    publish: async () => {},
    applyLocally: (notice) => {
      for (const handler of handlers) handler(notice, false);
    },
    subscribe: (handler) => {
      handlers.push(handler);
    },
    start: async () => {},
    stop: async () => {},
  };
}

export class PostgresNotifier implements Notifier {
  private readonly handlers: NoticeHandler[] = [];
  private client: pg.Client | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  /** Tells this node's own notices (heard back through LISTEN) from other nodes'. */
  private readonly nodeId = newId('node');

  constructor(
    private readonly connectionString: string,
    private readonly onError: (error: unknown) => void,
    private readonly onDelay: NoticeDelayRecorder = () => {},
    // Wall time on purpose, not the service clock: the delay is measured across processes.
    private readonly now: Clock = systemClock,
  ) {}

  async publish(tx: Executor, notice: Notice): Promise<void> {
    // Stamped inside the transaction, before commit: the delay measured on arrival is an upper bound.
    const envelope = { from: this.nodeId, sent_at: this.now() };
    // NOTIFY payloads are capped at 8000 bytes: a larger change tells the other nodes to drop all.
    let payload = JSON.stringify({ ...notice, ...envelope });
    if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ type: 'reset', ...envelope });
    await sql`select pg_notify(${CHANNEL}, ${payload})`.execute(tx);
  }

  applyLocally(notice: Notice): void {
    this.deliver(notice, false);
  }

  private deliver(notice: Notice, echo: boolean): void {
    for (const handler of this.handlers) handler(notice, echo);
  }

  subscribe(handler: NoticeHandler): void {
    this.handlers.push(handler);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      // A database that does not answer fails this attempt, and the next one is tried.
      connectionTimeoutMillis: LISTEN_CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      try {
        const { notice, from, sentAt } = decodeNoticeMessage(message.payload);
        this.deliver(notice, from === this.nodeId);
        // Own notices were applied before the change was answered: only other nodes' lag counts.
        if (from !== this.nodeId && sentAt !== null) this.onDelay(Math.max(0, this.now() - sentAt) / 1000);
      } catch (error) {
        this.onError(error);
      }
    });
    client.on('error', (error) => this.reconnect(client, error));
    client.on('end', () => this.reconnect(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    // stop() may have come while this connection was being made: nobody would end it.
    if (this.stopped) await client.end().catch(() => {});
    else this.client = client;
  }

  private reconnect(client: pg.Client, error: unknown): void {
    if (this.stopped || this.client !== client) return;
    this.client = null;
    if (error) this.onError(error);
    // Cached state is kept while we are deaf: should the database be gone, it is all this node can
    // answer verifications from, and the cache TTL bounds how stale it can get. Notices published
    // meanwhile are lost, so everything is dropped once we hear again.
    const attempt = () => {
      this.retry = null;
      if (this.stopped) return;
      this.connect().then(
        () => this.applyLocally({ type: 'reset' }),
        (e: unknown) => {
          this.onError(e);
          this.retry = setTimeout(attempt, 1000);
        },
      );
    };
    this.retry = setTimeout(attempt, 200);
  }
}

/**
 * Runs a change in one transaction that also publishes its notices, then applies them on this
 * node before returning, so the caller's response already reflects the change here and on every
 * node that hears it.
 */
export async function commitAndNotify<T>(
  db: Db,
  notifier: Notifier,
  work: (tx: Tx) => Promise<{ result: T; notices: Notice[] }>,
): Promise<T> {
  const { result, notices } = await db.transaction().execute(async (tx) => {
    const done = await work(tx);
    for (const notice of done.notices) await notifier.publish(tx, notice);
    return done;
  });
  for (const notice of notices) notifier.applyLocally(notice);
  return result;
}
