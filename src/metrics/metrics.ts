import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { NoticeDelayRecorder } from '../cluster/notifier.js';
import type { VerifyCode, VerifyResultRecorder } from '../tokens/verify.js';
import type { DeliveryOutcome } from '../webhooks/deliver.js';
import { createRequestMetrics, type RequestMetrics } from './http.js';
import { registerStateCollectors, type StateSources } from './state.js';

/**
 * The metrics of one app (docs/operations.md#metrics): its own registry, and what the code counts
 * with. Request counts and latencies are kept beside the registry (see http.ts) and added to its text.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One answered request, labelled with its route pattern (never the path: secrets can sit in paths). */
  observeRequest: RequestMetrics['observe'];
  readonly verifyResult: VerifyResultRecorder;
  /** A verify the fast lane answered itself, or handed to the full route (src/tokens/verify-lane.ts). */
  readonly verifyLane: (outcome: VerifyLaneOutcome) => void;
  readonly deliveryOutcome: (outcome: DeliveryOutcome) => void;
  readonly noticeDelay: NoticeDelayRecorder;
  /** Every metric now, in the Prometheus text format. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions extends StateSources {
  /** prom-client's process and Node.js metrics (CPU, memory, event loop, GC); on by default. */
  processMetrics?: boolean;
}

// The promise is 1 s with a 100 ms target: buckets around both.
const NOTICE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OUTCOMES: readonly DeliveryOutcome[] = ['succeeded', 'failed', 'retried'];

/** What the verify fast lane did with a request. */
export type VerifyLaneOutcome = 'answered' | 'handed_over';

/**
 * Creates an app's metrics on a registry of its own (never prom-client's global one), so several
 * apps in one process (tests) count apart. State that exists anyway (cache counters, the database
 * pool, the job queue) is read when scraped; what only happens on a request is counted here.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = createRequestMetrics();

  // The hot path only bumps a number; the counter reads them when scraped.
  const verifyCounts: Record<VerifyCode, number> = {
    VALID: 0,
    NOT_FOUND: 0,
    EXPIRED: 0,
    REVOKED: 0,
    INSUFFICIENT_SCOPE: 0,
    RATE_LIMITED: 0,
    USAGE_EXCEEDED: 0,
  };
  new Counter({
    name: 'tooken_verify_results_total',
    help: 'Token verifications answered, by result code.',
    labelNames: ['code'],
    registers,
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(verifyCounts)) this.inc({ code }, count);
    },
  });

  const laneCounts: Record<VerifyLaneOutcome, number> = { answered: 0, handed_over: 0 };
  new Counter({
    name: 'tooken_verify_lane_requests_total',
    help: 'Verify requests the fast lane answered itself (answered) or handed to the full route (handed_over: not cached yet, unusual, or invalid).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(laneCounts)) this.inc({ outcome }, count);
    },
  });

  const deliveries = new Counter({
    name: 'tooken_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome: succeeded, failed (no retry left) or retried (another attempt is scheduled).',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of OUTCOMES) deliveries.inc({ outcome }, 0);

  const noticeDelays = new Histogram({
    name: 'tooken_cluster_notice_delay_seconds',
    help: "Time from another node's change (inside its transaction) to its cache notice being applied on this node (PostgreSQL).",
    buckets: NOTICE_BUCKETS,
    registers,
  });

  registerStateCollectors(registry, options);

  return {
    registry,
    observeRequest: requests.observe,
    verifyResult: (code) => {
      verifyCounts[code] += 1;
    },
    verifyLane: (outcome) => {
      laneCounts[outcome] += 1;
    },
    deliveryOutcome: (outcome) => deliveries.inc({ outcome }),
    noticeDelay: (seconds) => noticeDelays.observe(seconds),
    // The registry's text ends with a newline; a blank line separates the request metrics from it.
    scrape: async () => {
      const text = await registry.metrics();
      const http = requests.expose();
      return http === '' ? text : `${text}\n${http}`;
    },
    contentType: registry.contentType,
  };
}
