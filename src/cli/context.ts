import { createClient, signIn, type TookenClient, TookenError, TookenUnreachableError } from '@tooken/client';
import { type Command, InvalidArgumentError } from 'commander';
import { cliSettings } from '../config.js';
import { createOutput, type Output } from './output.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, notValid: 4 } as const;

/** A command used wrongly (missing credential, bad value): exit 2. */
export class UsageError extends Error {}

interface GlobalOptions {
  url?: string;
  apiKey?: string;
  workspace?: string;
  json?: boolean;
}

/** The client for this invocation: an API key, or a person signed in with TOOKEN_EMAIL/TOOKEN_PASSWORD. */
async function clientFor(options: GlobalOptions): Promise<TookenClient> {
  const settings = cliSettings();
  const baseUrl = options.url ?? settings.url;
  const apiKey = options.apiKey ?? settings.apiKey;
  const workspace = options.workspace;
  if (apiKey !== undefined) return createClient({ baseUrl, apiKey, workspace });
  if (settings.email !== undefined && settings.password !== undefined) {
    const session = await signIn({ baseUrl, email: settings.email, password: settings.password });
    return createClient({ baseUrl, session, workspace });
  }
  throw new UsageError(
    'No credential: set TOOKEN_API_KEY (or pass --api-key), or TOOKEN_EMAIL and TOOKEN_PASSWORD to sign in',
  );
}

export type Handler = (context: {
  client: () => Promise<TookenClient>;
  output: Output;
  args: string[];
  options: Record<string, unknown>;
}) => Promise<number | undefined>;

/**
 * A command's action: builds the client lazily, runs the handler and turns what went wrong into
 * a message on stderr and an exit code — never a stack trace.
 */
export function run(handler: Handler, how: { ownUrl?: boolean } = {}) {
  return async (...received: unknown[]) => {
    const command = received.at(-1) as Command;
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    // A command whose own --url means something else (a webhook's URL) takes the server's from
    // before the command name (`tooken --url … webhooks create --url …`) or TOOKEN_URL.
    const connection = how.ownUrl ? { ...options, url: rootOf(command).opts<GlobalOptions>().url } : options;
    const output = createOutput(options.json === true);
    const args = received
      .slice(0, -2)
      .flatMap((arg) => (Array.isArray(arg) ? arg : [arg]))
      .filter((arg): arg is string => typeof arg === 'string');
    try {
      const client = () => clientFor(connection);
      process.exitCode = (await handler({ client, output, args, options })) ?? EXIT.ok;
    } catch (error) {
      process.exitCode = report(error, output);
    }
  };
}

function rootOf(command: Command): Command {
  let root = command;
  while (root.parent !== null) root = root.parent;
  return root;
}

/**
 * The connection options, on every command that talks to a server, so they may follow the command
 * name (`tooken tokens list --json`) as well as precede it.
 */
export function connection(command: Command, options: { url?: boolean } = {}): Command {
  if (options.url !== false) command.option('--url <url>', 'the Tooken server (default: TOOKEN_URL)');
  return command
    .option('--api-key <key>', 'an API key or token (default: TOOKEN_API_KEY)')
    .option('--workspace <slug>', 'name the workspace in paths (/v1/workspaces/SLUG/…)')
    .option('--json', 'print the API’s JSON instead of tables');
}

function report(error: unknown, output: Output): number {
  if (error instanceof TookenError) {
    const fields = error.details.map((d) => `\n  ${d.field}: ${d.message}`).join('');
    output.err(
      `tooken: ${error.message} (${error.status} ${error.code}, request ${error.requestId ?? '-'})${fields}`,
    );
    return EXIT.refused;
  }
  if (error instanceof TookenUnreachableError) {
    output.err(`tooken: ${error.message}: is the server running? Set TOOKEN_URL or --url.`);
    return EXIT.unreachable;
  }
  if (error instanceof UsageError) {
    output.err(`tooken: ${error.message}`);
    return EXIT.usage;
  }
  output.err(`tooken: ${error instanceof Error ? error.message : String(error)}`);
  return EXIT.refused;
}

/** `a,b,c` → `['a','b','c']` (empty items dropped). */
export const list = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** A whole-number option (a usage error otherwise). */
export function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}
