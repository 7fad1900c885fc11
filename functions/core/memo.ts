/**
 * Caches for what a warm Lambda builds once: clients, connections, models. A rejected promise is never kept
 * (say, Secrets Manager throttled on a cold start), so the next call tries again.
 */

/** `make()` once, then the same value. */
export function memo<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** `make()` once while it succeeds; a rejection is dropped so the next call builds again. */
export function memoAsync<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}

/**
 * One value per key object (a runtime: one per warm container, or per local stack), built by `make(key)`;
 * a rejection is dropped so the next call builds again.
 */
export function memoPer<K extends object, T>(make: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const cache = new WeakMap<K, Promise<T>>();
  return (key) => {
    let value = cache.get(key);
    if (!value) {
      value = make(key);
      value.catch(() => cache.delete(key));
      cache.set(key, value);
    }
    return value;
  };
}
