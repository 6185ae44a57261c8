import { useQuery } from '@tanstack/react-query';
import { useWorkspace } from '../layout/workspace';
import { ErrorState, Loading } from '../ui/states';
import { CustomScopes } from './general/CustomScopes';
import { LeakPolicyForm } from './general/LeakPolicyForm';
import { ReadOnlySettings } from './general/ReadOnlySettings';
import { RequireTwoFactor } from './general/RequireTwoFactor';
import { WorkspaceForm } from './general/WorkspaceForm';
import './settings-tabs.css';

/**
 * The General tab of Settings: workspace name, slug, timezone, default expiration and audit log
 * retention; custom scopes and the leak policy below them. Owners change them; Admins and Viewers
 * read them.
 */
export function GeneralTab() {
  const { client, role, workspace } = useWorkspace();
  const settings = useQuery({
    queryKey: ['settings', workspace.slug],
    queryFn: () => client.settings.get(),
  });
  if (settings.isPending) return <Loading label="Loading settings…" />;
  if (settings.isError) return <ErrorState error={settings.error} retry={() => settings.refetch()} />;
  if (role !== 'owner') return <ReadOnlySettings settings={settings.data} />;
  return (
    <div className="stack">
      <section className="card" aria-labelledby="general-workspace-title">
        <div className="card-body">
          <h2 id="general-workspace-title">Workspace</h2>
          <WorkspaceForm settings={settings.data} />
        </div>
      </section>
      <section className="card" aria-labelledby="general-two-factor-title">
        <div className="card-body">
          <h2 id="general-two-factor-title">Two-factor authentication</h2>
          <RequireTwoFactor settings={settings.data} />
        </div>
      </section>
      <section className="card" aria-labelledby="general-scopes-title">
        <div className="card-body">
          <h2 id="general-scopes-title">Custom scopes</h2>
          <p className="hint section-hint">
            Scopes of your own, offered next to the built-in ones when creating a token. They grant nothing
            inside Tooken; verifying a token returns them to your services.
          </p>
          <CustomScopes settings={settings.data} />
        </div>
      </section>
      <section className="card" aria-labelledby="general-leak-title">
        <div className="card-body">
          <h2 id="general-leak-title">Leak policy</h2>
          <p className="hint section-hint">
            What happens when someone reports one of this workspace's secrets as leaked.
          </p>
          <LeakPolicyForm settings={settings.data} />
        </div>
      </section>
    </div>
  );
}
