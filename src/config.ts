import path from 'node:path';
import ipaddr from 'ipaddr.js';

/** How new accounts may be created (docs/accounts.md#signing-up). */
export type SignupMode = 'first-user' | 'open' | 'closed';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/**
 * Which reverse proxies may say who the client is (X-Forwarded-For/-Proto/-Host): none, the
 * nearest `n` hops, or the proxies at these addresses, CIDR ranges or named ranges
 * (docs/operations.md#behind-a-reverse-proxy).
 */
export type TrustProxy = false | number | readonly string[];

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Base of links in emails and `accept_url`, without a trailing slash. */
  readonly publicUrl: string;
  readonly dataDir: string;
  /** `sqlite:<file>` for the embedded default, or a `postgres://` URL. */
  readonly databaseUrl: string;
  readonly secretKey: string | null;
  readonly signup: SignupMode;
  readonly smtpUrl: string | null;
  readonly emailFrom: string;
  readonly rateLimitPerMinute: number;
  readonly verifyRateLimitPerMinute: number;
  readonly webhookAllowPrivate: boolean;
  readonly logLevel: LogLevel;
  readonly trustProxy: TrustProxy;
  /** Bearer a scraper outside the loopback interface must present for `/metrics`; null: loopback only. */
  readonly metricsToken: string | null;
  /** How long a claimed background job stays claimed when its node stops (crash, kill) before another run takes it. */
  readonly jobLeaseMs: number;
  /** Change streams (`GET /v1/tokens/stream`) one workspace may hold open on one node, and all of the node's (docs/edge-verification.md#limits). */
  readonly streamsPerWorkspace: number;
  readonly streamsPerNode: number;
  /** How often an idle change stream gets a keep-alive comment line. */
  readonly streamKeepAliveMs: number;
  /**
   * Whether `POST …/tokens/verify` is answered by the fast lane when it can (on by default; the
   * full route answers otherwise, identically). An off switch, should the two ever differ.
   */
  readonly verifyFastLane: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Ranges proxy-addr knows by name. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];
const MAX_HOPS = 100;

/** An IPv4 address in dotted decimal or an IPv6 address, optionally with a CIDR prefix, or a named range. */
function isProxyAddress(entry: string): boolean {
  if (NAMED_RANGES.includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  if (rest.length > 0) return false;
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  if (!v4 && !(address.includes(':') && ipaddr.IPv6.isValid(address))) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (v4 ? 32 : 128));
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SIGNUP_MODES: readonly SignupMode[] = ['first-user', 'open', 'closed'];

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The only reader of the environment. Collects every problem so that a bad start-up prints one
 * clear line per bad variable, then throws a ConfigError.
 */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };
  const trustProxy = (name: string): TrustProxy => {
    const raw = read(name);
    if (raw === undefined || raw === 'false' || raw === '0') return false;
    // `true` once meant "trust every hop", which lets any client forge its address: now one hop.
    if (raw === 'true') return 1;
    if (/^\d+$/.test(raw) && Number(raw) <= MAX_HOPS) return Number(raw);
    const entries = raw.split(',').map((entry) => entry.trim());
    if (entries.every(isProxyAddress)) return Object.freeze(entries);
    problems.push(
      `${name} must be false, true (one hop), a hop count from 1 to ${MAX_HOPS}, or a comma-separated list of proxy addresses or CIDR ranges (got "${raw}")`,
    );
    return false;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return fallback;
  };

  const port = integer('TOOKEN_PORT', 8080, 0, 65535);
  const host = read('TOOKEN_HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(cwd, read('TOOKEN_DATA_DIR') ?? './tooken-data');

  let databaseUrl = `sqlite:${path.join(dataDir, 'tooken.db')}`;
  const rawDb = read('TOOKEN_DATABASE_URL');
  if (rawDb !== undefined) {
    if (/^postgres(ql)?:\/\//.test(rawDb)) {
      try {
        new URL(rawDb);
        databaseUrl = rawDb;
      } catch {
        problems.push('TOOKEN_DATABASE_URL is not a valid URL');
      }
    } else if (rawDb.startsWith('sqlite:')) {
      databaseUrl = `sqlite:${path.resolve(cwd, rawDb.slice('sqlite:'.length))}`;
    } else {
      problems.push('TOOKEN_DATABASE_URL must start with postgres://, postgresql:// or sqlite:');
    }
  }

  let publicUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const rawPublic = read('TOOKEN_PUBLIC_URL');
  if (rawPublic !== undefined) {
    try {
      const url = new URL(rawPublic);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
      publicUrl = rawPublic.replace(/\/+$/, '');
    } catch {
      problems.push(`TOOKEN_PUBLIC_URL must be an http(s) URL (got "${rawPublic}")`);
    }
  }

  const secretKey = read('TOOKEN_SECRET_KEY') ?? null;
  if (secretKey !== null && Buffer.from(secretKey, 'base64').length !== 32) {
    problems.push('TOOKEN_SECRET_KEY must be 32 bytes encoded as base64');
  }

  const smtpUrl = read('TOOKEN_SMTP_URL') ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/[^/]+/.test(smtpUrl)) {
    problems.push('TOOKEN_SMTP_URL must look like smtp://user:pass@host:port');
  }
  const emailFrom = read('TOOKEN_EMAIL_FROM') ?? 'Tooken <tooken@localhost>';

  // The characters a bearer token may hold (RFC 6750), and long enough not to be guessed.
  const metricsToken = read('TOOKEN_METRICS_TOKEN') ?? null;
  if (metricsToken !== null && !/^[A-Za-z0-9._~+/=-]{16,512}$/.test(metricsToken)) {
    problems.push(
      'TOOKEN_METRICS_TOKEN must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = - (the value is not shown)',
    );
  }

  const config: Config = {
    port,
    host,
    publicUrl,
    dataDir,
    databaseUrl,
    secretKey,
    signup: oneOf('TOOKEN_SIGNUP', SIGNUP_MODES, 'first-user'),
    smtpUrl,
    emailFrom,
    rateLimitPerMinute: integer('TOOKEN_RATE_LIMIT_PER_MINUTE', 1000, 1, 100_000_000),
    verifyRateLimitPerMinute: integer('TOOKEN_VERIFY_RATE_LIMIT_PER_MINUTE', 6_000_000, 1, 1_000_000_000),
    webhookAllowPrivate: boolean('TOOKEN_WEBHOOK_ALLOW_PRIVATE', false),
    logLevel: oneOf('TOOKEN_LOG_LEVEL', LOG_LEVELS, 'info'),
    trustProxy: trustProxy('TOOKEN_TRUST_PROXY'),
    metricsToken,
    jobLeaseMs: integer('TOOKEN_JOB_LEASE_MS', 60_000, 1_000, 3_600_000),
    streamsPerWorkspace: integer('TOOKEN_STREAMS_PER_WORKSPACE', 100, 1, 100_000),
    streamsPerNode: integer('TOOKEN_STREAMS_PER_NODE', 1000, 1, 1_000_000),
    streamKeepAliveMs: integer('TOOKEN_STREAM_KEEPALIVE_MS', 15_000, 10, 15_000),
    verifyFastLane: boolean('TOOKEN_VERIFY_FAST_LANE', true),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** What the management commands of the CLI read from the environment (flags override each). */
export interface CliSettings {
  /** `TOOKEN_URL`, default `http://127.0.0.1:8080`. */
  readonly url: string;
  /** `TOOKEN_API_KEY`: an API key or a token. */
  readonly apiKey: string | undefined;
  /** `TOOKEN_EMAIL` and `TOOKEN_PASSWORD`: sign in as a person (workspace commands need it). */
  readonly email: string | undefined;
  readonly password: string | undefined;
}

export function cliSettings(env: Env = process.env): CliSettings {
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    url: read('TOOKEN_URL') ?? 'http://127.0.0.1:8080',
    apiKey: read('TOOKEN_API_KEY'),
    email: read('TOOKEN_EMAIL'),
    password: env.TOOKEN_PASSWORD,
  };
}

/** Whether the configured database is an SQLite file inside `dir`. */
export function storesDatabaseIn(config: Pick<Config, 'databaseUrl'>, dir: string): boolean {
  if (!config.databaseUrl.startsWith('sqlite:')) return false;
  const relative = path.relative(dir, config.databaseUrl.slice('sqlite:'.length));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
