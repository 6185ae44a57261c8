import createFetchClient from 'openapi-fetch';
import { errorFrom, TookenError } from './errors.js';
import type { components, operations, paths } from './openapi.js';
import { createTransport, type TransportOptions } from './transport.js';

type Schemas = components['schemas'];
type Query<K extends keyof operations> = NonNullable<operations[K]['parameters']['query']>;

export type Token = Schemas['Token'];
export type TokenWithSecret = Schemas['TokenWithSecret'];
export type VerifyResult = Schemas['VerifyResult'];
export type ApiKey = Schemas['ApiKey'];
export type Member = Schemas['Member'];
export type Invitation = Schemas['Invitation'];
export type Webhook = Schemas['Webhook'];
export type Delivery = Schemas['Delivery'];
export type AuditEntry = Schemas['AuditEntry'];
export type Settings = Schemas['Settings'];
export type Workspace = Schemas['Workspace'];
export type Session = Schemas['Session'];
export type Me = Schemas['Me'];

export type ClientOptions = TransportOptions;

/** What openapi-fetch answers: the parsed body on success, the error body otherwise. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful answer, or the server's error thrown as `TookenError`. */
async function ok<T>(answer: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await answer;
  if (!response.ok) throw await errorFrom(response, error);
  return data as T;
}

/**
 * A typed client for every endpoint, grouped by resource. With `apiKey` it acts in that key's
 * workspace; `workspace` names the workspace in the path instead (dashboard sessions need it).
 *
 * ```ts
 * const tooken = createClient({ baseUrl: 'https://tooken.internal', apiKey: process.env.TOOKEN_API_KEY });
 * const { token } = await tooken.tokens.create({ name: 'orders-service', scopes: ['orders:read'] });
 * ```
 */
export function createClient(options: ClientOptions) {
  const api = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ''),
    fetch: createTransport(options),
  });
  const id = (value: string) => ({ params: { path: { id: value } } });

  return {
    /** The raw typed client (openapi-fetch), for anything the groups below do not cover. */
    api,
    tokens: {
      create: (body: Schemas['CreateTokenRequest']) => ok(api.POST('/v1/tokens', { body })),
      list: (query: Query<'tokens.list'> = {}) => ok(api.GET('/v1/tokens', { params: { query } })),
      get: (tokenId: string) => ok(api.GET('/v1/tokens/{id}', id(tokenId))),
      revoke: (tokenId: string) => ok(api.DELETE('/v1/tokens/{id}', id(tokenId))),
      rotate: (tokenId: string, body: Schemas['RotateTokenRequest'] = {}) =>
        ok(api.POST('/v1/tokens/{id}/rotate', { ...id(tokenId), body })),
      update: (tokenId: string, body: Schemas['UpdateTokenRequest']) =>
        ok(api.PATCH('/v1/tokens/{id}', { ...id(tokenId), body })),
      /** Revokes the tokens `{ids}` names (≤ 1000), or every token of `{external_id}`; answers `{revoked}`. */
      revokeMany: (body: Schemas['BulkRevokeRequest']) => ok(api.POST('/v1/tokens/revoke', { body })),
      verify: (token: string, check: { scopes?: string[] } = {}) =>
        ok(api.POST('/v1/tokens/verify', { body: { token, ...check } })),
    },
    apiKeys: {
      list: (query: Query<'apiKeys.list'> = {}) => ok(api.GET('/v1/api-keys', { params: { query } })),
      create: (body: Schemas['CreateApiKeyRequest']) => ok(api.POST('/v1/api-keys', { body })),
      regenerate: (keyId: string) => ok(api.POST('/v1/api-keys/{id}/regenerate', id(keyId))),
      delete: (keyId: string) => ok(api.DELETE('/v1/api-keys/{id}', id(keyId))),
    },
    members: {
      list: (query: Query<'members.list'> = {}) => ok(api.GET('/v1/members', { params: { query } })),
      setRole: (userId: string, role: Schemas['Member']['role']) =>
        ok(api.PATCH('/v1/members/{user_id}', { params: { path: { user_id: userId } }, body: { role } })),
      remove: (userId: string) =>
        ok(api.DELETE('/v1/members/{user_id}', { params: { path: { user_id: userId } } })),
    },
    invitations: {
      list: (query: Query<'invitations.list'> = {}) => ok(api.GET('/v1/invitations', { params: { query } })),
      create: (body: Schemas['CreateInvitationRequest']) => ok(api.POST('/v1/invitations', { body })),
      revoke: (invitationId: string) => ok(api.DELETE('/v1/invitations/{id}', id(invitationId))),
      accept: (token: string) => ok(api.POST('/v1/invitations/accept', { body: { token } })),
    },
    webhooks: {
      list: (query: Query<'webhooks.list'> = {}) => ok(api.GET('/v1/webhooks', { params: { query } })),
      create: (body: Schemas['CreateWebhookRequest']) => ok(api.POST('/v1/webhooks', { body })),
      get: (hookId: string) => ok(api.GET('/v1/webhooks/{id}', id(hookId))),
      update: (hookId: string, body: Schemas['UpdateWebhookRequest']) =>
        ok(api.PATCH('/v1/webhooks/{id}', { ...id(hookId), body })),
      delete: (hookId: string) => ok(api.DELETE('/v1/webhooks/{id}', id(hookId))),
      rotateSecret: (hookId: string) => ok(api.POST('/v1/webhooks/{id}/rotate-secret', id(hookId))),
      test: (hookId: string) => ok(api.POST('/v1/webhooks/{id}/test', id(hookId))),
      deliveries: (hookId: string, query: Query<'webhooks.deliveries'> = {}) =>
        ok(api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: hookId }, query } })),
      retry: (hookId: string, deliveryId: string) =>
        ok(
          api.POST('/v1/webhooks/{id}/deliveries/{dlv_id}/retry', {
            params: { path: { id: hookId, dlv_id: deliveryId } },
          }),
        ),
    },
    audit: {
      list: (query: Query<'audit.list'> = {}) => ok(api.GET('/v1/audit-logs', { params: { query } })),
      /** The CSV export as a byte stream, oldest entry first: pipe it to a file or parse it. */
      export: async (query: Query<'audit.export'> = {}): Promise<ReadableStream<Uint8Array>> => {
        const { response, error } = await api.GET('/v1/audit-logs/export', {
          params: { query },
          parseAs: 'stream',
        });
        if (!response.ok || response.body === null) throw await errorFrom(response, error);
        return response.body;
      },
      verify: () => ok(api.GET('/v1/audit-logs/verify')),
    },
    settings: {
      get: () => ok(api.GET('/v1/settings')),
      update: (body: Schemas['UpdateSettingsRequest']) => ok(api.PATCH('/v1/settings', { body })),
    },
    workspaces: {
      list: (query: Query<'workspaces.list'> = {}) => ok(api.GET('/v1/workspaces', { params: { query } })),
      create: (body: Schemas['CreateWorkspaceRequest']) => ok(api.POST('/v1/workspaces', { body })),
      delete: (slug: string) =>
        ok(api.DELETE('/v1/workspaces/{slug}', { params: { path: { slug } }, body: { confirm: slug } })),
    },
    /**
     * The signed-in person (dashboard sessions only): `me()` answers who it is, with the CSRF token
     * and workspaces; the groups manage their own password, two-factor and sessions.
     */
    me: Object.assign(() => ok(api.GET('/v1/me')), {
      changePassword: (currentPassword: string, newPassword: string) =>
        ok(
          api.POST('/v1/me/password', {
            body: { current_password: currentPassword, new_password: newPassword },
          }),
        ),
      twoFactor: {
        /** A new TOTP secret and its `otpauth://` URI (for a QR code), pending until confirmed. */
        begin: () => ok(api.POST('/v1/me/two-factor')),
        /** Turns two-factor on with a code of the app; answers the ten recovery codes, once. */
        confirm: (code: string) => ok(api.POST('/v1/me/two-factor/confirm', { body: { code } })),
        /** Turns it off; `code` is a code of the app or a recovery code. */
        disable: (password: string, code: string) =>
          ok(api.DELETE('/v1/me/two-factor', { body: { password, code } })),
      },
      sessions: {
        list: () => ok(api.GET('/v1/me/sessions')),
        end: (sessionId: string) => ok(api.DELETE('/v1/me/sessions/{id}', id(sessionId))),
        /** Signs out everywhere else: every session but this one ends. */
        endOthers: () => ok(api.POST('/v1/me/sessions/revoke-others')),
      },
    }),
    /** Dashboard sessions and account recovery (no credential needed; in a browser the cookie stays in its jar). */
    auth: {
      signup: (body: Schemas['SignupRequest']) => ok(api.POST('/v1/auth/signup', { body })),
      /** With two-factor on, answers `{two_factor_required: true, challenge}` and no session. */
      login: (body: Schemas['LoginRequest']) => ok(api.POST('/v1/auth/login', { body })),
      logout: () => ok(api.POST('/v1/auth/logout')),
      /** The second step: the challenge with a code of the app, or with a recovery code. */
      loginTwoFactor: (challenge: string, factor: { code: string } | { recovery_code: string }) =>
        ok(api.POST('/v1/auth/login/two-factor', { body: { challenge, ...factor } })),
      /** Always resolves (202), whether or not the address has an account. */
      requestPasswordReset: (email: string) => ok(api.POST('/v1/auth/password-reset', { body: { email } })),
      /** `token` is the `token` parameter of the emailed link; every session of the account ends. */
      confirmPasswordReset: (token: string, newPassword: string) =>
        ok(api.POST('/v1/auth/password-reset/confirm', { body: { token, new_password: newPassword } })),
    },
  };
}

export type TookenClient = ReturnType<typeof createClient>;

/**
 * Signs in a person and returns what a session client needs. In Node the session cookie is
 * returned to be passed on; in a browser it stays in the browser's cookie jar.
 */
export async function signIn(options: {
  baseUrl: string;
  email: string;
  password: string;
  /** A code of the authenticator app, for an account with two-factor on. */
  twoFactorCode?: string;
  fetch?: typeof fetch;
}): Promise<{ csrfToken: string; cookie: string | undefined; user: Schemas['User'] }> {
  const api = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/$/, ''),
    fetch: createTransport({ baseUrl: options.baseUrl, fetch: options.fetch }),
  });
  let answer = await api.POST('/v1/auth/login', {
    body: { email: options.email, password: options.password },
  });
  const first = await ok(Promise.resolve(answer));
  if ('challenge' in first) {
    if (options.twoFactorCode === undefined) {
      throw new TookenError(
        401,
        'two_factor_required',
        'This account has two-factor on: pass twoFactorCode (or use an API key)',
        answer.response.headers.get('x-request-id'),
      );
    }
    answer = await api.POST('/v1/auth/login/two-factor', {
      body: { challenge: first.challenge, code: options.twoFactorCode },
    });
  }
  const signedIn = await ok(Promise.resolve(answer));
  if ('challenge' in signedIn) throw new Error('unreachable: the second step answers a session');
  const cookie = answer.response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .find((pair) => pair?.startsWith('tooken_session='));
  return { csrfToken: signedIn.csrf_token, cookie, user: signedIn.user };
}
