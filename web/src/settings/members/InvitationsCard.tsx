import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Invitation } from '@tooken/client';
import { useState } from 'react';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Pager, useClampPage } from '../../components/Pager';
import { useWorkspace } from '../../layout/workspace';
import { ErrorState, Loading } from '../../ui/states';
import { InvitationTable } from './InvitationTable';
import { InviteDialog } from './InviteDialog';

const PER_PAGE = 25;

/** Pending invitations, with Invite, each one's link and Revoke for Owners. */
export function InvitationsCard() {
  const { client, role, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [inviting, setInviting] = useState(false);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const owner = role === 'owner';
  const invitations = useQuery({
    queryKey: ['invitations', workspace.slug, page],
    queryFn: () => client.invitations.list({ page, per_page: PER_PAGE }),
    placeholderData: keepPreviousData,
  });
  const total = invitations.data?.meta.total ?? 0;
  useClampPage(page, invitations.data?.data.length, setPage);
  return (
    <section className="card" aria-labelledby="invitations-title">
      <div className="card-header">
        <div>
          <h2 id="invitations-title">Pending invitations</h2>
          {owner ? (
            <span className="hint">
              Each link works once, for the invited address. Without email set up on the server, copy it and
              send it yourself.
            </span>
          ) : null}
        </div>
        {owner ? (
          <button
            type="button"
            className="button primary"
            onClick={() => {
              setNotice(null);
              setInviting(true);
            }}
          >
            Invite
          </button>
        ) : null}
      </div>
      <p className="sr-only" role="status" aria-live="polite">
        {notice ?? ''}
      </p>
      {invitations.isPending ? (
        <Loading label="Loading invitations…" />
      ) : invitations.isError ? (
        <ErrorState error={invitations.error} retry={() => invitations.refetch()} />
      ) : total === 0 ? (
        <div className="empty">
          <p>No pending invitations.</p>
          {owner ? <p className="hint">Invite someone by email with the role they should have.</p> : null}
        </div>
      ) : (
        <>
          <InvitationTable
            invitations={invitations.data.data}
            timeZone={settings?.timezone ?? 'UTC'}
            manage={owner}
            onRevoke={(invitation) => {
              setRevoking(invitation);
            }}
          />
          <Pager
            page={page}
            perPage={PER_PAGE}
            total={total}
            noun={['invitation', 'invitations']}
            label="Invitation pages"
            onPage={setPage}
          />
        </>
      )}
      <InviteDialog
        open={inviting}
        onOpenChange={setInviting}
        onInvited={(invitation) => {
          setInviting(false);
          setPage(1);
          setNotice(`Invitation created for ${invitation.email}.`);
        }}
      />
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke the invitation for ${revoking?.email ?? ''}?`}
        description="Its link stops working at once. You can invite them again later."
        confirm="Revoke invitation"
        pending="Revoking…"
        action={async () => {
          if (revoking) await client.invitations.revoke(revoking.id);
          await queryClient.invalidateQueries({ queryKey: ['invitations', workspace.slug] });
        }}
        onCancel={() => setRevoking(null)}
        onDone={() => setRevoking(null)}
      />
    </section>
  );
}
