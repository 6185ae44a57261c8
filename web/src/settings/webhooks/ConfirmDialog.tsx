import type { ReactNode } from 'react';
import { messageOf } from '../../api/errors';
import { Dialog } from '../../ui/Dialog';

/** A change that needs a second look: Cancel, or the action itself (its failure shown inside). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  description: ReactNode;
  action: string;
  pendingAction: string;
  danger?: boolean;
  pending: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={(open) => !open && props.onCancel()}
      title={props.title}
      description={props.description}
    >
      {props.error ? (
        <div className="alert error" role="alert">
          {messageOf(props.error)}
        </div>
      ) : null}
      <div className="actions">
        <button type="button" className="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button
          type="button"
          className={props.danger ? 'button danger' : 'button primary'}
          disabled={props.pending}
          onClick={props.onConfirm}
        >
          {props.pending ? props.pendingAction : props.action}
        </button>
      </div>
    </Dialog>
  );
}
