import { useMutation } from '@tanstack/react-query';
import type { TookenClient } from '@tooken/client';
import { formErrors } from '../api/errors';
import { FormError } from '../ui/states';

/** Forgot the current password: a reset link sent to the account's own address. */
export function ResetByEmail({ client, email }: { client: TookenClient; email: string }) {
  const send = useMutation({ mutationFn: () => client.auth.requestPasswordReset(email) });
  return (
    <div className="stack">
      <p className="hint section-hint">
        Forgot your current password? We email a link to {email} that sets a new one. It works once, for 30
        minutes, and signs out every session of your account, this one included.
      </p>
      <FormError message={send.error ? formErrors(send.error, []).form : null} />
      {send.isSuccess ? (
        <div className="alert info" role="status">
          We sent a link to {email}. Open it to choose a new password.
        </div>
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={() => send.mutate()} disabled={send.isPending}>
          {send.isPending ? 'Sending…' : 'Email me a reset link'}
        </button>
      </div>
    </div>
  );
}
