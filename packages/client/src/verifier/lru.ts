/**
 * A bounded map that evicts the least recently used entries, close enough: a hit moves its entry to
 * the young end only once it has aged past a quarter of the capacity, so hot entries cost one
 * `Map.get` per hit rather than a delete and a set.
 */
export class Lru<V> {
  private readonly map = new Map<string, { value: V; seq: number }>();
  private seq = 0;
  private readonly refreshAfter: number;

  constructor(
    private readonly max: number,
    private readonly onEvict: (key: string, value: V) => void = () => {},
  ) {
    this.refreshAfter = Math.max(1, Math.floor(max / 4));
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (this.seq - slot.seq > this.refreshAfter) {
      this.map.delete(key);
      slot.seq = ++this.seq;
      this.map.set(key, slot);
    }
    return slot.value;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.onEvict(key, old.value);
    }
    this.map.set(key, { value, seq: ++this.seq });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      const slot = this.map.get(oldest.value);
      this.map.delete(oldest.value);
      if (slot !== undefined) this.onEvict(oldest.value, slot.value);
    }
  }

  delete(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    this.map.delete(key);
    return slot.value;
  }

  clear(): void {
    this.map.clear();
  }
}
