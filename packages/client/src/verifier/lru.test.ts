import { describe, expect, it } from 'vitest';
import { Lru } from './lru.js';
import { readEvents } from './sse.js';

describe('Lru', () => {
  it('keeps at most max entries, evicting the least recently used and telling who went', () => {
    const evicted: string[] = [];
    const lru = new Lru<number>(4, (key) => evicted.push(key));
    for (const key of ['a', 'b', 'c', 'd']) lru.set(key, 1);
    // Touch `a` after enough newer writes that it counts as old: it moves to the young end.
    for (const key of ['e', 'f']) lru.set(key, 1);
    expect(evicted).toEqual(['a', 'b']);
    expect(lru.get('c')).toBe(1);
    lru.set('g', 1);
    lru.set('h', 1);
    expect(lru.size).toBe(4);
    expect(lru.get('c')).toBe(1); // refreshed above, so `d` and `e` went first
    expect(evicted).toEqual(['a', 'b', 'd', 'e']);
  });
});

const streamOf = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });

describe('readEvents', () => {
  it('parses events split across chunks, skips comments, and accepts CRLF', async () => {
    const events: Array<{ event: string; data: string }> = [];
    await readEvents(
      streamOf(
        ': connected\n\nevent: inval',
        'idate\ndata: {"token_ids":["tok_a"]}\n\n',
        'event: reset\r\ndata: {}\r\n\r\n',
      ),
      (e) => events.push(e),
    );
    expect(events).toEqual([
      { event: 'invalidate', data: '{"token_ids":["tok_a"]}' },
      { event: 'reset', data: '{}' },
    ]);
  });
});
