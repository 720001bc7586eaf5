/**
 * A least-recently-used cache bounded by entry count and by total weight (bytes). Used for
 * immutable, content-addressed data (file lookups of a version, small blob bodies), so entries never
 * go stale: they are only evicted.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private weight = 0;

  /**
   * @param maxEntries most entries kept.
   * @param maxWeight most total weight kept (e.g. bytes); entries heavier than this are not kept.
   */
  constructor(
    readonly maxEntries: number,
    readonly maxWeight = Infinity,
  ) {}

  /** The value, marking it most recently used; `undefined` when absent. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** True when the key is cached (does not touch recency). */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Stores a value with a weight (default 1). */
  set(key: K, value: V, weight = 1): void {
    if (weight > this.maxWeight) return;
    const old = this.map.get(key);
    if (old) {
      this.weight -= old.weight;
      this.map.delete(key);
    }
    this.map.set(key, { value, weight });
    this.weight += weight;
    while (this.map.size > this.maxEntries || this.weight > this.maxWeight) {
      const [k, e] = this.map.entries().next().value as [K, { value: V; weight: number }];
      this.map.delete(k);
      this.weight -= e.weight;
    }
  }

  /** Drops everything. */
  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}
