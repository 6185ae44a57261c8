import type { TrustProxy } from '../config.js';

export type TrustProxyOption = false | string[] | ((address: string, hop: number) => boolean);

/**
 * Fastify's `trustProxy` for the configured proxies. A hop count becomes a function trusting the
 * nearest `n` addresses (the socket peer is hop 0): Fastify itself trusts no hop at all when given
 * a number. Addresses and ranges are handed over as they are (proxy-addr semantics).
 */
export function trustProxyOption(setting: TrustProxy): TrustProxyOption {
  if (setting === false) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return [...setting];
}
