import { useState } from 'react';
import { sessionClient, signInPath, useMe } from '../api/session';

/**
 * Ends the session on the server, then loads the sign-in page afresh: nothing the signed-in person
 * saw stays in memory.
 */
export function SignOutButton({ next = '/', label = 'Sign out' }: { next?: string; label?: string }) {
  const me = useMe();
  const [busy, setBusy] = useState(false);
  const signOut = async () => {
    setBusy(true);
    try {
      if (me.data) await sessionClient(me.data.csrf_token).auth.logout();
    } catch {
      // A session that already ended is signed out all the same.
    }
    window.location.assign(signInPath(next));
  };
  return (
    <button type="button" className="button ghost" onClick={signOut} disabled={busy}>
      {label}
    </button>
  );
}
