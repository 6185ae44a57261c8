import { type QueryClient, useQuery } from '@tanstack/react-query';
import { createClient, type TookenClient, TookenError } from '@tooken/client';

/** What `GET /v1/me` answers: the person, their CSRF token and their workspaces with roles. */
export type Me = Awaited<ReturnType<TookenClient['me']>>;
export type WorkspaceSummary = Me['workspaces'][number];
export type Role = WorkspaceSummary['role'];

export const ME_KEY = ['me'] as const;

const baseUrl = () => window.location.origin;

/** A client without a session: sign-up, sign-in and reading who is signed in. */
export function anonymousClient(): TookenClient {
  return createClient({ baseUrl: baseUrl(), maxRetries: 0 });
}

/** A client of the signed-in session, acting in one workspace when `slug` is given. */
export function sessionClient(csrfToken: string, slug?: string): TookenClient {
  return createClient({ baseUrl: baseUrl(), session: { csrfToken }, workspace: slug, maxRetries: 0 });
}

/** The signed-in person, or null when there is no session (401 is an answer here, not an error). */
export async function fetchMe(): Promise<Me | null> {
  try {
    return await anonymousClient().me();
  } catch (error) {
    if (error instanceof TookenError && error.status === 401) return null;
    throw error;
  }
}

export function useMe() {
  return useQuery({ queryKey: ME_KEY, queryFn: fetchMe, staleTime: 60_000 });
}

/** After sign-in, sign-up or sign-out: read the session again, dropping every cached answer. */
export async function refreshSession(queryClient: QueryClient): Promise<Me | null> {
  queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
  const me = await fetchMe();
  queryClient.setQueryData(ME_KEY, me);
  return me;
}

/** Whether an error means the session is gone (expired, signed out elsewhere). */
export const isSignedOut = (error: unknown) => error instanceof TookenError && error.status === 401;

/** `next` from a sign-in link, only when it is a path of this site (never another origin). */
export function safeNext(raw: string | null): string {
  return raw?.startsWith('/') && !raw.startsWith('//') && !raw.startsWith('/\\') ? raw : '/';
}

/** The sign-in path that brings the person back to `path` afterwards. */
export const signInPath = (path: string) =>
  path === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(path)}`;
