import type { AuditService } from '../audit/service.js';
import { SYSTEM_META } from '../audit/service.js';
import { unseal } from '../auth/sealing.js';
import { type Clock, iso } from '../clock.js';
import { decodeDeliveryAttempts, isJsonObject } from '../db/json.js';
import type { Db, DeliveryAttempt, WebhooksTable } from '../db/schema.js';
import { type JobContext, LeaseLostError } from '../jobs/runner.js';
import { scheduleAttempt } from './dispatch.js';
import { SEND_TIMEOUT_MS, type SendResult, sendOnce } from './send.js';
import { standardSignatures, tookenSignature } from './signing.js';
import { type Resolve, resolveSafeTarget, systemResolve } from './url-guard.js';

/** Waits before retries 1…6 (docs/webhooks.md#delivery-rules), jittered by ±10 %; after the last, the delivery fails. */
export const RETRY_DELAYS_MS = [30_000, 120_000, 600_000, 3_600_000, 21_600_000, 86_400_000];
export const DISABLE_AFTER_MS = 5 * 86_400_000;

/** What one attempt came to: the delivery succeeded, failed for good, or waits for a retry. */
export type DeliveryOutcome = 'succeeded' | 'failed' | 'retried';

export interface DelivererDeps {
  db: Db;
  clock: Clock;
  audit: AuditService;
  serverKey: Buffer;
  allowPrivate: boolean;
  resolve?: Resolve;
  random?: () => number;
  send?: typeof sendOnce;
  /** Counts each attempt's outcome once it is recorded (for /metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
  /** Bounds one attempt from name lookup to the end of the answer (10 s). */
  timeoutMs?: number;
}

/** The secrets that sign now: the newest first, then the previous one during its 24 h overlap. */
export function liveSecrets(hook: WebhooksTable, serverKey: Buffer, now: number): string[] {
  const secrets = [unseal(hook.secret_sealed, serverKey)];
  if (hook.previous_secret_sealed !== null && (hook.previous_secret_until ?? 0) > now) {
    secrets.push(unseal(hook.previous_secret_sealed, serverKey));
  }
  return secrets;
}

/** Rejects after `ms` unless `work` settles first. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * The `webhook.deliver` job: one attempt of one delivery. The outcome is data on the delivery
 * (each attempt recorded); the next attempt is a new job at the retry schedule, so the job itself
 * only fails on internal errors. The attempt is made only while the job's lease holds: checked
 * (and renewed) just before the POST, and again in the transaction that records it, so an attempt
 * taken over by another node after a lapsed lease is neither sent nor recorded twice.
 */
export function createDeliverer(deps: DelivererDeps) {
  const { db, clock, audit, serverKey, allowPrivate } = deps;
  const resolve = deps.resolve ?? systemResolve;
  const random = deps.random ?? Math.random;
  const send = deps.send ?? sendOnce;
  const onOutcome = deps.onOutcome ?? (() => {});
  const timeoutMs = deps.timeoutMs ?? SEND_TIMEOUT_MS;

  return async function deliver(payload: unknown, job: JobContext): Promise<void> {
    if (!isJsonObject(payload)) return;
    const { deliveryId, due } = payload;
    if (typeof deliveryId !== 'string') return;
    const delivery = await db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', deliveryId)
      .executeTakeFirst();
    // Superseded by a manual retry, or already settled.
    if (delivery === undefined || delivery.status !== 'pending' || delivery.next_attempt_at !== due) return;
    const hook = await db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', delivery.webhook_id)
      .executeTakeFirst();
    if (hook === undefined) return;
    const now = clock();

    let result: SendResult;
    if (hook.enabled === 0) {
      result = { statusCode: null, latencyMs: 0, error: 'endpoint is disabled', excerpt: null };
    } else {
      const started = performance.now();
      try {
        const target = await within(resolveSafeTarget(hook.url, allowPrivate, resolve), timeoutMs);
        const secrets = liveSecrets(hook, serverKey, now);
        const timestamp = Math.floor(now / 1000);
        if (!(await job.holdsLease())) throw new LeaseLostError();
        const left = Math.max(1, timeoutMs - Math.round(performance.now() - started));
        result = await send(
          target,
          {
            'user-agent': 'Tooken-Webhooks/1',
            'x-tooken-signature': tookenSignature(secrets[0] ?? '', delivery.body),
            'x-tooken-event': delivery.event,
            'x-tooken-delivery': delivery.id,
            'webhook-id': delivery.event_id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': standardSignatures(secrets, delivery.event_id, timestamp, delivery.body),
          },
          delivery.body,
          { timeoutMs: left, signal: job.signal },
        );
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        result = {
          statusCode: null,
          latencyMs: Math.round(performance.now() - started),
          error: error instanceof Error ? error.message : 'refused',
          excerpt: null,
        };
      }
    }

    const attempt: DeliveryAttempt = {
      at: iso(now),
      status_code: result.statusCode,
      latency_ms: result.latencyMs,
      error: result.error,
      response_excerpt: result.excerpt,
    };
    const attempts = [...decodeDeliveryAttempts(delivery.attempts), attempt];
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const retryIndex = delivery.attempt_count; // 0 after the first attempt fails → first retry delay
    const delay = RETRY_DELAYS_MS[retryIndex];
    const finished = ok || delay === undefined || hook.enabled === 0;
    const next = finished ? null : now + Math.round((delay ?? 0) * (0.9 + 0.2 * random()));

    await db.transaction().execute(async (tx) => {
      if (!(await job.holdsLease(tx))) throw new LeaseLostError();
      await tx
        .updateTable('webhook_deliveries')
        .set({
          status: ok ? 'succeeded' : finished ? 'failed' : 'pending',
          attempts: JSON.stringify(attempts),
          attempt_count: attempts.length,
          next_attempt_at: next,
          updated_at: now,
        })
        .where('id', '=', delivery.id)
        .execute();
      if (next !== null) await scheduleAttempt(tx, delivery, next);
      if (hook.enabled === 0) return;
      if (ok) {
        if (hook.failing_since !== null) {
          await tx.updateTable('webhooks').set({ failing_since: null }).where('id', '=', hook.id).execute();
        }
        return;
      }
      const failingSince = hook.failing_since ?? now;
      if (now - failingSince >= DISABLE_AFTER_MS) {
        await tx
          .updateTable('webhooks')
          .set({ enabled: 0, updated_at: now })
          .where('id', '=', hook.id)
          .execute();
        await audit.record(tx, {
          workspaceId: hook.workspace_id,
          event: 'webhook.disabled',
          actor: { type: 'system', id: null, name: 'tooken' },
          target: { type: 'webhook', id: hook.id, name: hook.url },
          changes: { enabled: { from: true, to: false } },
          meta: SYSTEM_META,
        });
      } else if (hook.failing_since === null) {
        await tx.updateTable('webhooks').set({ failing_since: now }).where('id', '=', hook.id).execute();
      }
    });
    onOutcome(ok ? 'succeeded' : finished ? 'failed' : 'retried');
  };
}
