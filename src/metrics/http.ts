/** Requests to a path no route matches; the path itself is never a label. */
export const UNMATCHED_ROUTE = 'unmatched';

// Verify answers in well under a millisecond from the cache; slow requests reach seconds.
export const REQUEST_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

const COUNT = 'tooken_http_requests_total';
const DURATION = 'tooken_http_request_duration_seconds';

interface Series {
  /** `method="…",route="…",status="…"`, rendered once. */
  labels: string;
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  buckets: number[];
}

/** What a request and its reply tell (Fastify's request and reply have these). */
export interface AnsweredRequest {
  method: string;
  routeOptions: { url?: string | undefined };
}
export interface RequestReply {
  statusCode: number;
  /** Milliseconds since the request arrived. */
  elapsedTime: number;
}

export interface RequestMetrics {
  observe(request: AnsweredRequest, reply: RequestReply): void;
  /** Both metrics in the Prometheus text format, ending with a newline (empty before any request). */
  expose(): string;
}

/**
 * Request counts and latency by method, route pattern and status. Every request passes here, so
 * this is kept off prom-client's label hashing (a string key and an object per call, ~2 µs): a
 * request costs three map lookups and a few additions, with no allocation once its series exists,
 * and the text is written when scraped.
 */
export function createRequestMetrics(): RequestMetrics {
  const byRoute = new Map<string, Map<string, Map<number, Series>>>();
  const all: Series[] = [];

  const seriesOf = (route: string, method: string, status: number): Series => {
    let byMethod = byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      byRoute.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      const labels = `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`;
      series = { labels, count: 0, sum: 0, buckets: new Array<number>(REQUEST_BUCKETS.length + 1).fill(0) };
      byStatus.set(status, series);
      all.push(series);
    }
    return series;
  };

  return {
    observe(request, reply) {
      const series = seriesOf(request.routeOptions.url ?? UNMATCHED_ROUTE, request.method, reply.statusCode);
      const seconds = reply.elapsedTime / 1000;
      let bucket = 0;
      while (bucket < REQUEST_BUCKETS.length && seconds > (REQUEST_BUCKETS[bucket] ?? 0)) bucket += 1;
      series.buckets[bucket] = (series.buckets[bucket] ?? 0) + 1;
      series.count += 1;
      series.sum += seconds;
    },
    expose() {
      if (all.length === 0) return '';
      const lines = [
        `# HELP ${COUNT} HTTP requests answered, by method, route pattern and status code.`,
        `# TYPE ${COUNT} counter`,
      ];
      for (const s of all) lines.push(`${COUNT}{${s.labels}} ${s.count}`);
      lines.push(
        `# HELP ${DURATION} Time from receiving a request to sending its response, by method, route pattern and status code.`,
        `# TYPE ${DURATION} histogram`,
      );
      for (const s of all) {
        let cumulative = 0;
        for (const [i, bound] of REQUEST_BUCKETS.entries()) {
          cumulative += s.buckets[i] ?? 0;
          lines.push(`${DURATION}_bucket{${s.labels},le="${bound}"} ${cumulative}`);
        }
        lines.push(`${DURATION}_bucket{${s.labels},le="+Inf"} ${s.count}`);
        lines.push(`${DURATION}_sum{${s.labels}} ${s.sum}`);
        lines.push(`${DURATION}_count{${s.labels}} ${s.count}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

/** Label values escape backslash, double quote and newline (Prometheus text format). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
