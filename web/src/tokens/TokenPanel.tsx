import type { Token, TokenWithSecret } from '@tooken/client';
import { useState } from 'react';
import { canWrite, useWorkspace } from '../layout/workspace';
import { Dialog } from '../ui/Dialog';
import { formatTime } from './format';
import { RevokeDialog } from './RevokeDialog';
import { RotateDialog } from './RotateDialog';
import { Scopes, StatusBadge } from './StatusBadge';

/** A token's details, with Rotate and Revoke for the roles that may (each behind a confirmation). */
export function TokenPanel(props: {
  token: Token | null;
  onClose: () => void;
  onRotated: (token: TokenWithSecret) => void;
}) {
  const { role, settings } = useWorkspace();
  const [action, setAction] = useState<'rotate' | 'revoke' | null>(null);
  const token = props.token;
  const zone = settings?.timezone ?? 'UTC';
  return (
    <>
      <Dialog
        open={token !== null && action === null}
        onOpenChange={(open) => !open && props.onClose()}
        title={token?.name ?? 'Token'}
        panel
      >
        {token ? (
          <>
            <dl className="details">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={token.status} />
              </dd>
              <dt>Scopes</dt>
              <dd>
                <Scopes scopes={token.scopes} />
              </dd>
              <dt>Secret</dt>
              <dd>
                <code>{token.hint}</code>
              </dd>
              <dt>Created</dt>
              <dd>{formatTime(token.created_at, zone)}</dd>
              <dt>Created by</dt>
              <dd>{token.created_by}</dd>
              <dt>Expires</dt>
              <dd>{formatTime(token.expires_at, zone, 'Never')}</dd>
              <dt>Last used</dt>
              <dd>{formatTime(token.last_used_at, zone, 'Never')}</dd>
              {token.rotated_at ? (
                <>
                  <dt>Rotated</dt>
                  <dd>{formatTime(token.rotated_at, zone)}</dd>
                </>
              ) : null}
              {token.revoked_at ? (
                <>
                  <dt>Revoked</dt>
                  <dd>{formatTime(token.revoked_at, zone)}</dd>
                </>
              ) : null}
              <dt>ID</dt>
              <dd>
                <code>{token.id}</code>
              </dd>
            </dl>
            <p className="hint">Times in {zone}.</p>
            {canWrite(role) && token.status === 'active' ? (
              <div className="actions">
                <button type="button" className="button" onClick={() => setAction('rotate')}>
                  Rotate
                </button>
                <button type="button" className="button danger" onClick={() => setAction('revoke')}>
                  Revoke
                </button>
              </div>
            ) : null}
          </>
        ) : null}
      </Dialog>
      {token ? (
        <>
          <RotateDialog
            token={token}
            open={action === 'rotate'}
            onCancel={() => setAction(null)}
            onRotated={(rotated) => {
              setAction(null);
              props.onClose();
              props.onRotated(rotated);
            }}
          />
          <RevokeDialog
            token={token}
            open={action === 'revoke'}
            onCancel={() => setAction(null)}
            onRevoked={() => {
              setAction(null);
              props.onClose();
            }}
          />
        </>
      ) : null}
    </>
  );
}
