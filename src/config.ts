import path from 'node:path';

/** How new accounts may be created (docs/accounts.md#signing-up). */
export type SignupMode = 'first-user' | 'open' | 'closed';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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
  readonly trustProxy: boolean;
  /** Bearer a scraper outside the loopback interface must present for `/metrics`; null: loopback only. */
  readonly metricsToken: string | null;
  /** How long a claimed background job stays claimed when its node stops (crash, kill) before another run takes it. */
  readonly jobLeaseMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
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
    trustProxy: boolean('TOOKEN_TRUST_PROXY', false),
    metricsToken,
    jobLeaseMs: integer('TOOKEN_JOB_LEASE_MS', 60_000, 1_000, 3_600_000),
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
