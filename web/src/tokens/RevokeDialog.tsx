import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Token } from '@tooken/client';
import { messageOf } from '../api/errors';
import { useWorkspace } from '../layout/workspace';
import { Dialog } from '../ui/Dialog';

/** Revoke, confirmed: permanent, effective at once everywhere. */
export function RevokeDialog(props: {
  token: Token;
  open: boolean;
  onCancel: () => void;
  onRevoked: () => void;
}) {
  const { client, workspace } = useWorkspace();
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => client.tokens.revoke(props.token.id),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['tokens', workspace.slug] });
      props.onRevoked();
    },
  });
  return (
    <Dialog
      open={props.open}
      onOpenChange={(open) => {
        if (!open) {
          revoke.reset();
          props.onCancel();
        }
      }}
      title={`Revoke “${props.token.name}”?`}
      description="Every request with this token fails from now on. This cannot be undone."
    >
      {revoke.isError ? (
        <div className="alert error" role="alert">
          {messageOf(revoke.error)}
        </div>
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          className="button danger"
          disabled={revoke.isPending}
          onClick={() => revoke.mutate()}
        >
          {revoke.isPending ? 'Revoking…' : 'Revoke token'}
        </button>
      </div>
    </Dialog>
  );
}
