import { useQueryClient } from '@tanstack/react-query';
import { ME_KEY, type WorkspaceSummary } from '../api/session';
import { SignOutButton } from '../layout/SignOutButton';
import { AuthCard, Loading } from '../ui/states';
import { useAccountClient } from './account-client';
import { Enrol } from './Enrol';
import './account.css';

/**
 * A workspace that requires two-factor, opened by a member without it: why they cannot go in, and
 * the enrolment that lets them in (the Account page's), after which the workspace opens.
 */
export default function TwoFactorRequired({ workspace }: { workspace: WorkspaceSummary }) {
  const client = useAccountClient();
  const queryClient = useQueryClient();
  if (client === null) return <Loading />;
  return (
    <AuthCard title="Set up two-factor authentication">
      <div className="alert warning" role="status">
        The workspace “{workspace.name}” requires two-factor authentication. Its Owners turned this on to
        protect its tokens: until your account has it, the dashboard cannot open this workspace.
      </div>
      <p>
        It takes a minute: scan a QR code with an authenticator app on your phone, then enter the code it
        shows.
      </p>
      <div className="account">
        <Enrol
          client={client}
          onDone={() => {
            // Back with two-factor on: the workspace opens.
            queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] });
            queryClient.invalidateQueries({ queryKey: ME_KEY });
          }}
        />
      </div>
      <p className="hint">
        <a href="/">Go to your other workspaces</a>
      </p>
      <SignOutButton />
    </AuthCard>
  );
}
