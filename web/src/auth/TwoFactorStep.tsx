import { type FormEvent, useState } from 'react';
import { formErrors } from '../api/errors';
import { anonymousClient } from '../api/session';
import { TextField } from '../ui/Field';
import { FormError } from '../ui/states';

/**
 * The second step of signing in with two-factor on: a code of the authenticator app, or one of
 * the recovery codes. `onSignedIn` runs once the server has set the session.
 */
export function TwoFactorStep(props: {
  challenge: string;
  onSignedIn: () => Promise<void>;
  onRestart: () => void;
}) {
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const value = code.trim();
      await anonymousClient().auth.loginTwoFactor(
        props.challenge,
        recovery ? { recovery_code: value } : { code: value.replace(/\s+/g, '') },
      );
      await props.onSignedIn();
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  // The server's refusal in its words; a local problem (no cookie) in ours.
  const message =
    error instanceof Error && error.name === 'Error' ? error.message : formErrors(error, []).form;
  const field = recovery ? 'Recovery code' : 'Authentication code';
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Two-factor authentication">
      <p>
        {recovery
          ? 'Enter one of the recovery codes you saved when you turned two-factor on. Each works once.'
          : 'Enter the 6-digit code your authenticator app shows for Tooken.'}
      </p>
      <FormError message={message} />
      <TextField
        key={field}
        label={field}
        name={recovery ? 'recovery_code' : 'code'}
        autoComplete="one-time-code"
        value={code}
        onChange={setCode}
        required
        autoFocus
      />
      <button type="submit" className="button primary" disabled={busy}>
        {busy ? 'Verifying…' : 'Verify'}
      </button>
      <button
        type="button"
        className="button ghost"
        onClick={() => {
          setRecovery(!recovery);
          setCode('');
          setError(null);
        }}
      >
        {recovery ? 'Use your authenticator app instead' : 'Use a recovery code instead'}
      </button>
      <button type="button" className="button ghost" onClick={props.onRestart}>
        Start over
      </button>
    </form>
  );
}
