import * as Tabs from '@radix-ui/react-tabs';
import { Navigate, useNavigate, useParams } from 'react-router';
import { useWorkspace } from '../layout/workspace';
import { ApiKeysTab } from './api-keys';
import { AuditLogsTab } from './audit-logs';
import { GeneralTab } from './general';
import { MembersTab } from './members';
import { WebhooksTab } from './webhooks';

/** The Settings tabs; each tab's content is its own file. The URL names the tab (`/settings/members`). */
const TABS = [
  { value: 'general', label: 'General', Content: GeneralTab, viewers: true },
  { value: 'api-keys', label: 'API Keys', Content: ApiKeysTab, viewers: true },
  { value: 'members', label: 'Members', Content: MembersTab, viewers: true },
  { value: 'webhooks', label: 'Webhooks', Content: WebhooksTab, viewers: true },
  // Reading the audit log is for Owners and Admins: Viewers do not get the tab at all.
  { value: 'audit-logs', label: 'Audit Logs', Content: AuditLogsTab, viewers: false },
] as const;

export function SettingsPage() {
  const { role, workspace } = useWorkspace();
  const { tab = 'general' } = useParams();
  const navigate = useNavigate();
  const tabs = TABS.filter((t) => t.viewers || role !== 'viewer');
  if (!tabs.some((t) => t.value === tab))
    return <Navigate to="../settings/general" relative="path" replace />;
  const base = `/w/${encodeURIComponent(workspace.slug)}/settings`;
  return (
    <>
      <div className="page-header">
        <h1>Settings</h1>
      </div>
      <Tabs.Root value={tab} onValueChange={(value) => navigate(`${base}/${value}`)}>
        <Tabs.List className="tabs-list" aria-label="Settings">
          {tabs.map((t) => (
            <Tabs.Trigger key={t.value} value={t.value} className="tab">
              {t.label}
            </Tabs.Trigger>
          ))}
        </Tabs.List>
        {tabs.map((t) => (
          <Tabs.Content key={t.value} value={t.value}>
            <t.Content />
          </Tabs.Content>
        ))}
      </Tabs.Root>
    </>
  );
}
