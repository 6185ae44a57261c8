import { expect } from 'vitest';

/** A test reader of a server-sent event stream over fetch: every event and comment, awaitable. */
export interface SseEvent {
  event: string | null;
  data: string;
  comment: string | null;
}

export interface SseReader {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Resolves with the first event (past or future) that matches, or rejects when the stream ends first. */
  next(match: (event: SseEvent) => boolean): Promise<SseEvent>;
  /** Resolves when the stream ended: `server` when the server closed it, `client` after `close()`. */
  ended: Promise<'server' | 'client'>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const events: SseEvent[] = [];
  const waiters: Array<{
    match: (e: SseEvent) => boolean;
    resolve: (e: SseEvent) => void;
    reject: (e: Error) => void;
  }> = [];
  let done = false;
  const push = (event: SseEvent) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.match(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  };
  const ended = (async (): Promise<'server' | 'client'> => {
    if (response.body === null) return 'server';
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut = buffer.indexOf('\n\n');
        while (cut !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event: string | null = null;
          let data = '';
          let comment: string | null = null;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = line.slice(1).trim();
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          push({ event, data, comment });
          cut = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close(), or the server cut the connection
    } finally {
      done = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('stream ended'));
    }
    return abort.signal.aborted ? 'client' : 'server';
  })();
  return {
    status: response.status,
    headers: response.headers,
    events,
    next(match) {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      if (done) return Promise.reject(new Error('stream ended'));
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
    },
    ended,
    close: () => abort.abort(),
  };
}

/**
 * Resolves with the `reason` of the `end` event when the server closes the stream within `ms`
 * (`null` when it closed without one); rejects when the stream is still open by then.
 */
export async function endedByServer(reader: SseReader, ms = 2000): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms`)), ms);
  });
  try {
    expect(await Promise.race([reader.ended, late])).toBe('server');
  } finally {
    clearTimeout(timer);
  }
  const end = reader.events.find((e) => e.event === 'end');
  // Nothing follows the end.
  if (end !== undefined) expect(reader.events.at(-1)).toBe(end);
  return end === undefined ? null : (JSON.parse(end.data) as { reason: string }).reason;
}

/** The token ids of an `invalidate` event. */
export const invalidated = (event: SseEvent): string[] =>
  event.event === 'invalidate' ? (JSON.parse(event.data) as { token_ids: string[] }).token_ids : [];
