import * as Menu from '@radix-ui/react-dropdown-menu';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { WorkspaceSummary } from '../api/session';
import { Dialog } from '../ui/Dialog';
import { CreateWorkspaceForm } from './CreateWorkspaceForm';

const ROLE_NAMES = { owner: 'Owner', admin: 'Admin', viewer: 'Viewer' } as const;

/** The current workspace; opens a menu of the others and "Create workspace". */
export function WorkspaceSwitcher({
  current,
  workspaces,
}: {
  current: WorkspaceSummary;
  workspaces: WorkspaceSummary[];
}) {
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  return (
    <>
      {/* Not modal: the page stays in the accessibility tree (no aria-hidden around focusable content). */}
      <Menu.Root modal={false}>
        <Menu.Trigger
          className="button switcher-trigger"
          aria-label={`Workspace: ${current.name}. Switch workspace`}
        >
          <span>{current.name}</span>
          <span aria-hidden="true">▾</span>
        </Menu.Trigger>
        <Menu.Portal>
          <Menu.Content className="menu" align="start" sideOffset={4}>
            <Menu.Label className="menu-label">Workspaces</Menu.Label>
            {workspaces.map((w) => (
              <Menu.Item
                key={w.id}
                className="menu-item"
                onSelect={() => navigate(`/w/${encodeURIComponent(w.slug)}/tokens`)}
              >
                <span>
                  {w.name}
                  {w.id === current.id ? <span className="sr-only"> (current)</span> : null}
                  {w.id === current.id ? <span aria-hidden="true"> ✓</span> : null}
                </span>
                <span className="hint">{ROLE_NAMES[w.role]}</span>
              </Menu.Item>
            ))}
            <Menu.Separator className="menu-separator" />
            <Menu.Item className="menu-item" onSelect={() => setCreating(true)}>
              Create workspace
            </Menu.Item>
          </Menu.Content>
        </Menu.Portal>
      </Menu.Root>
      <Dialog
        open={creating}
        onOpenChange={setCreating}
        title="Create workspace"
        description="You become its Owner."
      >
        <CreateWorkspaceForm onDone={() => setCreating(false)} onCancel={() => setCreating(false)} />
      </Dialog>
    </>
  );
}
