import { useMutation } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { messageOf } from '../api/errors';
import { Dialog } from '../ui/Dialog';

/**
 * A confirmation before a change that cannot be taken back: Cancel, or the action button (danger
 * style). The action runs here, so its failure is shown in the dialog and it stays open; it closes
 * only when the action succeeded (through `onDone`).
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  description: ReactNode;
  /** The action button's label, e.g. "Delete key". */
  confirm: string;
  /** Its label while the action runs, e.g. "Deleting…". */
  pending: string;
  action: () => Promise<unknown>;
  onCancel: () => void;
  onDone: () => void;
}) {
  const run = useMutation({ mutationFn: props.action, onSuccess: () => props.onDone() });
  const cancel = () => {
    run.reset();
    props.onCancel();
  };
  return (
    <Dialog
      open={props.open}
      onOpenChange={(open) => {
        if (!open) cancel();
      }}
      title={props.title}
      description={props.description}
    >
      {run.isError ? (
        <div className="alert error" role="alert">
          {messageOf(run.error)}
        </div>
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={cancel}>
          Cancel
        </button>
        <button type="button" className="button danger" disabled={run.isPending} onClick={() => run.mutate()}>
          {run.isPending ? props.pending : props.confirm}
        </button>
      </div>
    </Dialog>
  );
}
