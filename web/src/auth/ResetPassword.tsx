import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { formErrors } from '../api/errors';
import { anonymousClient, ME_KEY } from '../api/session';
import { TextField } from '../ui/Field';
import { AuthCard, FormError } from '../ui/states';

const WELL_FORMED = /^[A-Za-z0-9_-]{20,200}$/;

/**
 * `/reset-password?token=…`, the link of a password-reset email: a new password for the account.
 * Every session of the account ends, this browser's included, so it signs in afresh afterwards.
 */
export function ResetPassword() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const queryClient = useQueryClient();
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  if (!WELL_FORMED.test(token)) {
    return (
      <AuthCard title="Reset your password">
        <div className="alert error" role="alert">
          This password-reset link is incomplete. Open the link from the email again, or ask for a new one.
        </div>
        <Link className="button" to="/forgot-password">
          Ask for a new link
        </Link>
      </AuthCard>
    );
  }
  if (done) {
    return (
      <AuthCard title="Password reset">
        <div className="alert info" role="status">
          Your password is changed and every session of your account has ended. Sign in with the new password.
        </div>
        <Link className="button primary" to="/sign-in">
          Sign in
        </Link>
      </AuthCard>
    );
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await anonymousClient().auth.confirmPasswordReset(token, password);
      // Every session ended, this one too: forget who was signed in.
      queryClient.setQueryData(ME_KEY, null);
      setDone(true);
    } catch (caught) {
      setError(caught);
    }
    setBusy(false);
  };
  const errors = formErrors(error, ['new_password', 'token']);
  return (
    <AuthCard title="Choose a new password">
      <form className="form" onSubmit={submit} noValidate>
        <FormError message={errors.form ?? errors.fields.token ?? null} />
        {errors.fields.token ? (
          <p className="hint">
            <Link to="/forgot-password">Ask for a new link</Link>
          </p>
        ) : null}
        <TextField
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={errors.fields.new_password}
          hint="10 to 256 characters."
          required
          autoFocus
        />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Resetting…' : 'Reset password'}
        </button>
      </form>
    </AuthCard>
  );
}
