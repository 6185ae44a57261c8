import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { formErrors } from '../api/errors';
import { anonymousClient } from '../api/session';
import { TextField } from '../ui/Field';
import { AuthCard, FormError } from '../ui/states';

/**
 * `/forgot-password`: asks for a reset link by email. The answer is the same whether or not an
 * account has the address, so the page says the same thing either way.
 */
export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await anonymousClient().auth.requestPasswordReset(email.trim());
      setSent(true);
    } catch (caught) {
      setError(caught);
    }
    setBusy(false);
  };
  if (sent) {
    return (
      <AuthCard title="Check your email">
        <div className="alert info" role="status">
          If an account exists for {email.trim()}, we sent a link to reset its password. The link works once,
          for 30 minutes.
        </div>
        <p className="hint">
          No email? Check the spam folder, or ask the person who runs this Tooken installation: they can make
          a link for you.
        </p>
        <Link className="button" to="/sign-in">
          Back to sign in
        </Link>
      </AuthCard>
    );
  }
  const errors = formErrors(error, ['email']);
  return (
    <AuthCard title="Reset your password">
      <p>Enter the email address of your account and we will send you a link to choose a new password.</p>
      <form className="form" onSubmit={submit} noValidate>
        <FormError message={errors.form} />
        <TextField
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={setEmail}
          error={errors.fields.email}
          required
          autoFocus
        />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send reset link'}
        </button>
      </form>
      <p className="hint">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}
