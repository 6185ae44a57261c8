/**
 * A write load through the HTTP API that records every request it sent and whether it was
 * acknowledged. "Acknowledged" means a 2xx status arrived: the server answers only after its
 * transaction committed, so from then on the change must survive anything. A request that got no
 * answer (the server was killed under it) may or may not have happened, but never half.
 */

export interface CreateSent {
  kind: 'create';
  name: string;
  acked: boolean;
  /** The token id, when the answer's body arrived. */
  id: string | null;
}
export interface RevokeSent {
  kind: 'revoke';
  id: string;
  acked: boolean;
}
/** One PATCH of the workspace name; `n` numbers them in the order they were sent. */
export interface SettingsSent {
  kind: 'settings';
  n: number;
  value: string;
  acked: boolean;
}
export type Sent = CreateSent | RevokeSent | SettingsSent;

/** Something other than a 2xx or a dropped connection: never expected under this load. */
export interface Unexpected {
  request: string;
  status: number;
  body: string;
}

/** Everything sent across all the server's lives, in the order it was sent. */
export class Ledger {
  readonly sent: Sent[] = [];
  readonly unexpected: Unexpected[] = [];
  private created = 0;
  private patches = 0;
  /** Acknowledged tokens not yet chosen for a revoke. */
  private readonly revocable: string[] = [];

  nextName(): string {
    this.created += 1;
    return `crash-${this.created}`;
  }

  nextSettings(): SettingsSent {
    this.patches += 1;
    const sent: SettingsSent = {
      kind: 'settings',
      n: this.patches,
      value: `Crash ${this.patches}`,
      acked: false,
    };
    this.sent.push(sent);
    return sent;
  }

  takeRevocable(random: () => number): string | undefined {
    if (this.revocable.length === 0) return undefined;
    const index = Math.floor(random() * this.revocable.length);
    return this.revocable.splice(index, 1)[0];
  }

  addRevocable(id: string): void {
    this.revocable.push(id);
  }

  creates = () => this.sent.filter((s): s is CreateSent => s.kind === 'create');
  revokes = () => this.sent.filter((s): s is RevokeSent => s.kind === 'revoke');
  settings = () => this.sent.filter((s): s is SettingsSent => s.kind === 'settings');
}

/** Sends one request; `null` when no answer arrived (the connection dropped or was refused). */
async function send(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response | null> {
  try {
    return await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return null;
  }
}

/** The body of a 2xx answer, or null if the connection dropped between the status and the body. */
async function bodyOf(res: Response): Promise<Record<string, unknown> | null> {
  try {
    const text = await res.text();
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return null;
  }
}

async function note(ledger: Ledger, request: string, res: Response): Promise<void> {
  ledger.unexpected.push({
    request,
    status: res.status,
    body: (await res.text().catch(() => '')).slice(0, 500),
  });
}

/** Creates a token, or (about a third of the time, when one is acknowledged) revokes one. */
async function tokenStep(base: string, key: string, ledger: Ledger, random: () => number): Promise<void> {
  const victim = random() < 0.35 ? ledger.takeRevocable(random) : undefined;
  if (victim !== undefined) {
    const sent: RevokeSent = { kind: 'revoke', id: victim, acked: false };
    ledger.sent.push(sent);
    const res = await send(base, key, 'DELETE', `/v1/tokens/${victim}`);
    if (res === null) return;
    if (res.ok) sent.acked = true;
    else await note(ledger, `DELETE /v1/tokens/${victim}`, res);
    return;
  }
  const sent: CreateSent = { kind: 'create', name: ledger.nextName(), acked: false, id: null };
  ledger.sent.push(sent);
  const res = await send(base, key, 'POST', '/v1/tokens', { name: sent.name, scopes: ['tokens:read'] });
  if (res === null) return;
  if (!res.ok) return note(ledger, `POST /v1/tokens (${sent.name})`, res);
  sent.acked = true;
  const body = await bodyOf(res);
  if (typeof body?.id === 'string') {
    sent.id = body.id;
    ledger.addRevocable(body.id);
  }
}

/** One settings change; a single worker sends them one after another, so they commit in that order. */
async function settingsStep(base: string, key: string, ledger: Ledger): Promise<void> {
  const sent = ledger.nextSettings();
  const res = await send(base, key, 'PATCH', '/v1/settings', { name: sent.value });
  if (res === null) return;
  if (res.ok) sent.acked = true;
  else await note(ledger, `PATCH /v1/settings (${sent.value})`, res);
}

/**
 * Runs `tokenWorkers` concurrent token loops and one settings loop against `base` until
 * `stopped()` is true; resolves when every request in flight has settled. The settings loop never
 * pauses, so the server is nearly always in the middle of a write; token loops pause up to
 * `tokenPauseMs` between requests, which bounds the webhook events the run leaves to deliver.
 */
export async function runLoad(options: {
  base: string;
  key: string;
  ledger: Ledger;
  random: () => number;
  tokenWorkers: number;
  tokenPauseMs: number;
  stopped: () => boolean;
}): Promise<void> {
  const { base, key, ledger, random, stopped } = options;
  const pause = () => new Promise((resolve) => setTimeout(resolve, random() * options.tokenPauseMs));
  const tokenLoop = async () => {
    while (!stopped()) {
      await tokenStep(base, key, ledger, random);
      if (!stopped()) await pause();
    }
  };
  const settingsLoop = async () => {
    while (!stopped()) await settingsStep(base, key, ledger);
  };
  await Promise.all([...Array.from({ length: options.tokenWorkers }, tokenLoop), settingsLoop()]);
}
