/** The error and every error it wraps (`cause`, the `errors` of an AggregateError), outermost first. */
export function errorChain(error: unknown): object[] {
  const chain: object[] = [];
  const pending: unknown[] = [error];
  while (pending.length > 0 && chain.length < 20) {
    const next = pending.shift();
    if (typeof next !== 'object' || next === null || chain.includes(next)) continue;
    chain.push(next);
    if ('cause' in next) pending.push(next.cause);
    if ('errors' in next && Array.isArray(next.errors)) pending.push(...next.errors);
  }
  return chain;
}

/** The `code` of an error object (a SQLSTATE, an SQLite result code, a Node system error code). */
export function codeOf(error: object): string | undefined {
  return 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

export function messageOf(error: object): string {
  return 'message' in error && typeof error.message === 'string' ? error.message : '';
}
