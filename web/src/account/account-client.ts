import type { TookenClient } from '@tooken/client';
import { useMemo } from 'react';
import { sessionClient, useMe } from '../api/session';

/** A client of the signed-in session for the account's own endpoints (`/v1/me/…`), or null signed out. */
export function useAccountClient(): TookenClient | null {
  const csrf = useMe().data?.csrf_token;
  return useMemo(() => (csrf ? sessionClient(csrf) : null), [csrf]);
}

export const SESSIONS_KEY = ['me', 'sessions'] as const;
