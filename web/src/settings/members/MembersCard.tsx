import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Member } from '@tooken/client';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { messageOf } from '../../api/errors';
import { fetchMe, ME_KEY, type Role } from '../../api/session';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Pager, useClampPage } from '../../components/Pager';
import { useWorkspace } from '../../layout/workspace';
import { ErrorState, Loading } from '../../ui/states';
import { ROLE_NAMES } from '../roles';
import { MemberTable } from './MemberTable';

const PER_PAGE = 25;

/** The members card: the list, role changes and Remove (Owner). */
export function MembersCard() {
  const { client, me, role, settings, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [page, setPage] = useState(1);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const owner = role === 'owner';
  const members = useQuery({
    queryKey: ['members', workspace.slug, page],
    queryFn: () => client.members.list({ page, per_page: PER_PAGE }),
    placeholderData: keepPreviousData,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['members', workspace.slug] });
  // One's own role or membership changed: the session's list of workspaces and roles is read again.
  const refreshSelf = async () => queryClient.setQueryData(ME_KEY, await fetchMe());
  const changeRole = useMutation({
    mutationFn: ({ member, to }: { member: Member; to: Role }) => client.members.setRole(member.user_id, to),
    onMutate: () => setNotice(null),
    onSuccess: async (_, { member, to }) => {
      await refresh();
      setNotice(`${member.email} is now ${ROLE_NAMES[to]}.`);
      if (member.user_id === me.user.id) await refreshSelf();
    },
  });
  const total = members.data?.meta.total ?? 0;
  useClampPage(page, members.data?.data.length, setPage);

  return (
    <section className="card" aria-labelledby="members-title">
      <div className="card-header">
        <div>
          <h2 id="members-title">Members</h2>
          <span className="hint">
            {owner
              ? 'Owners manage members and settings; Admins manage tokens and webhooks; Viewers read.'
              : 'Only Owners can invite, change roles or remove members.'}{' '}
            Times in {settings?.timezone ?? 'UTC'}.
          </span>
        </div>
      </div>
      {changeRole.isError ? (
        <div className="card-body">
          <div className="alert error" role="alert">
            {messageOf(changeRole.error)}
          </div>
        </div>
      ) : null}
      <p className="sr-only" role="status" aria-live="polite">
        {notice ?? ''}
      </p>
      {members.isPending ? (
        <Loading label="Loading members…" />
      ) : members.isError ? (
        <ErrorState error={members.error} retry={() => members.refetch()} />
      ) : (
        <>
          <MemberTable
            members={members.data.data}
            timeZone={settings?.timezone ?? 'UTC'}
            userId={me.user.id}
            manage={owner}
            changing={changeRole.isPending ? (changeRole.variables?.member.user_id ?? null) : null}
            onRole={(member, to) => changeRole.mutate({ member, to })}
            onRemove={(member) => {
              setRemoving(member);
            }}
          />
          <Pager
            page={page}
            perPage={PER_PAGE}
            total={total}
            noun={['member', 'members']}
            label="Member pages"
            onPage={setPage}
          />
        </>
      )}
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.email ?? ''}?`}
        description={
          removing?.user_id === me.user.id
            ? 'You leave this workspace at once and lose access to it. Your personal API keys here are deleted.'
            : 'They lose access to this workspace at once. Their personal API keys here are deleted.'
        }
        confirm="Remove member"
        pending="Removing…"
        action={async () => {
          if (!removing) return;
          await client.members.remove(removing.user_id);
          if (removing.user_id === me.user.id) {
            await refreshSelf();
            navigate('/', { replace: true });
            return;
          }
          await refresh();
          await queryClient.invalidateQueries({ queryKey: ['api-keys', workspace.slug] });
        }}
        onCancel={() => setRemoving(null)}
        onDone={() => setRemoving(null)}
      />
    </section>
  );
}
