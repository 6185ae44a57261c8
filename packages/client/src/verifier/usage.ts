const MAX_USES_PER_REPORT = 1000;

interface Use {
  count: number;
  last: number;
}

/**
 * Uses of answers served from the cache, reported in batches to `POST /v1/tokens/usage` (the
 * server counts the answers it gave itself). A failed report is kept for the next one.
 */
export function createUsageReporter({
  url,
  authorization,
  send,
  everyMs,
  maxTokens,
  onError,
}: {
  url: string;
  authorization: string;
  send: typeof fetch;
  everyMs: number;
  maxTokens: number;
  onError: (error: unknown) => void;
}) {
  let pending = new Map<string, Use>();
  let running: Promise<void> | null = null;

  const keep = (tokenId: string, use: Use) => {
    const seen = pending.get(tokenId);
    if (seen !== undefined) {
      seen.count += use.count;
      if (use.last > seen.last) seen.last = use.last;
    } else if (pending.size < maxTokens) {
      pending.set(tokenId, use);
    }
  };

  const report = async () => {
    const batch = pending;
    pending = new Map();
    const entries = [...batch];
    for (let i = 0; i < entries.length; i += MAX_USES_PER_REPORT) {
      const chunk = entries.slice(i, i + MAX_USES_PER_REPORT);
      try {
        const response = await send(url, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({
            uses: chunk.map(([token_id, use]) => ({
              token_id,
              count: use.count,
              last_used_at: new Date(use.last).toISOString(),
            })),
          }),
        });
        await response.arrayBuffer().catch(() => {});
        if (response.status >= 500 || response.status === 429)
          throw new Error(`usage report: HTTP ${response.status}`);
        // Any other refusal (a bad credential) would be refused again: those uses are dropped.
        if (!response.ok) onError(new Error(`usage report refused: HTTP ${response.status}`));
      } catch (error) {
        onError(error);
        for (const [tokenId, use] of entries.slice(i)) keep(tokenId, use);
        return;
      }
    }
  };

  const flush = async () => {
    while (running !== null) await running;
    if (pending.size === 0) return;
    running = report().finally(() => {
      running = null;
    });
    await running;
  };

  const timer = setInterval(() => void flush(), everyMs);
  timer.unref?.();

  return {
    /** Notes one use served from the cache. */
    used(tokenId: string, at: number) {
      const seen = pending.get(tokenId);
      if (seen !== undefined) {
        seen.count += 1;
        if (at > seen.last) seen.last = at;
      } else if (pending.size < maxTokens) {
        pending.set(tokenId, { count: 1, last: at });
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
