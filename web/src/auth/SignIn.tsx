import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { formErrors } from '../api/errors';
import { anonymousClient, refreshSession, safeNext, useMe } from '../api/session';
import { TextField } from '../ui/Field';
import { AuthCard, FormError, Loading } from '../ui/states';
import { TwoFactorStep } from './TwoFactorStep';

const NO_COOKIE = 'Signing in did not start a session: allow cookies for this site, then retry.';

export function SignIn() {
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const me = useMe();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // With two-factor on, the password step answers a challenge for the second step.
  const [challenge, setChallenge] = useState<string | null>(null);

  if (me.isPending) return <Loading />;
  if (me.data) return <Navigate to={next} replace />;

  const finish = async () => {
    // A browser that refuses the session cookie comes back signed out: say so, not nothing.
    if ((await refreshSession(queryClient)) === null) throw new Error(NO_COOKIE);
    navigate(next, { replace: true });
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer: object = await anonymousClient().auth.login({ email, password });
      if ('challenge' in answer && typeof answer.challenge === 'string') {
        setChallenge(answer.challenge);
        setPassword('');
        setBusy(false);
        return;
      }
      await finish();
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  if (challenge !== null) {
    return (
      <AuthCard title="Two-factor authentication">
        <TwoFactorStep
          challenge={challenge}
          onSignedIn={finish}
          onRestart={() => {
            setChallenge(null);
            setError(null);
          }}
        />
      </AuthCard>
    );
  }
  const local = error instanceof Error && error.message === NO_COOKIE;
  const errors = local
    ? { fields: {}, form: (error as Error).message }
    : formErrors(error, ['email', 'password']);
  return (
    <AuthCard title="Sign in">
      {params.has('next') ? (
        <div className="alert info" role="status">
          Sign in to continue.
        </div>
      ) : null}
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
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          error={errors.fields.password}
          required
        />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="hint">
        <Link to="/forgot-password">Forgot password?</Link>
      </p>
      <p className="hint">
        New here? <Link to={`/sign-up${params.size > 0 ? `?${params}` : ''}`}>Sign up</Link>
      </p>
    </AuthCard>
  );
}
