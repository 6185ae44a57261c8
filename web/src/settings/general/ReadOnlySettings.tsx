import type { Settings } from '@tooken/client';
import { leakPolicyLabel } from './leak-policy';

/** The General settings as Admins and Viewers see them: to read; only Owners change them. */
export function ReadOnlySettings({ settings }: { settings: Settings }) {
  return (
    <section className="card" aria-labelledby="general-readonly-title">
      <div className="card-body stack">
        <h2 id="general-readonly-title">General</h2>
        <div className="alert info">Only Owners can change these settings.</div>
        <dl className="details">
          <dt>Workspace name</dt>
          <dd>{settings.name}</dd>
          <dt>Slug</dt>
          <dd>
            <code>{settings.slug}</code>
          </dd>
          <dt>Timezone</dt>
          <dd>{settings.timezone}</dd>
          <dt>Default expiration</dt>
          <dd>
            {settings.default_token_expiration_days === null
              ? 'Never'
              : `${settings.default_token_expiration_days} days`}
          </dd>
          <dt>Audit log retention</dt>
          <dd>{settings.audit_log_retention_days} days</dd>
          <dt>Custom scopes</dt>
          <dd>
            {settings.custom_scopes.length === 0 ? (
              'None'
            ) : (
              <span className="chips">
                {settings.custom_scopes.map((scope) => (
                  <span key={scope} className="chip">
                    {scope}
                  </span>
                ))}
              </span>
            )}
          </dd>
          <dt>Leak policy</dt>
          <dd>{leakPolicyLabel(settings.leak_policy)}</dd>
        </dl>
      </div>
    </section>
  );
}
