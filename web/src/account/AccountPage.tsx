import { useWorkspace } from '../layout/workspace';
import { Loading } from '../ui/states';
import { useAccountClient } from './account-client';
import { ChangePassword } from './ChangePassword';
import { ResetByEmail } from './ResetByEmail';
import { Sessions } from './Sessions';
import { TwoFactorCard } from './TwoFactorCard';
import './account.css';

/** `/w/:slug/account`: the signed-in person's password, two-factor and sessions. */
export function AccountPage() {
  const { me } = useWorkspace();
  const client = useAccountClient();
  if (client === null) return <Loading />;
  return (
    <div className="stack account">
      <header className="page-header">
        <h1>Account</h1>
        <p className="hint">{me.user.email}</p>
      </header>
      <section className="card" aria-labelledby="account-password-title">
        <div className="card-body">
          <h2 id="account-password-title">Change password</h2>
          <ChangePassword client={client} />
        </div>
      </section>
      <section className="card" aria-labelledby="account-reset-title">
        <div className="card-body">
          <h2 id="account-reset-title">Reset by email</h2>
          <ResetByEmail client={client} email={me.user.email} />
        </div>
      </section>
      <section className="card" aria-labelledby="account-two-factor-title">
        <div className="card-body">
          <h2 id="account-two-factor-title">Two-factor authentication</h2>
          <TwoFactorCard client={client} enabled={me.user.two_factor_enabled} />
        </div>
      </section>
      <section className="card" aria-labelledby="account-sessions-title">
        <div className="card-body">
          <h2 id="account-sessions-title">Sessions</h2>
          <p className="hint section-hint">
            Where your account is signed in, most recently used first. Times in your browser’s timezone.
          </p>
          <Sessions client={client} />
        </div>
      </section>
    </div>
  );
}
