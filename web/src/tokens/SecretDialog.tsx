import { useState } from 'react';
import { Dialog } from '../ui/Dialog';

/**
 * A new secret, shown this once. Closing the dialog drops it: the page keeps no copy anywhere
 * (the caller forgets it in `onClose`).
 */
export function SecretDialog(props: {
  title: string;
  name: string;
  secret: string | null;
  onClose: () => void;
}) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const close = () => {
    setCopied(null);
    props.onClose();
  };
  const copy = async () => {
    if (props.secret === null) return;
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <Dialog
      open={props.secret !== null}
      onOpenChange={(open) => {
        if (!open) close();
      }}
      title={props.title}
      description={`Copy the secret of “${props.name}” now: it is shown only once and cannot be shown again.`}
    >
      <div className="field">
        <label htmlFor="new-secret">Secret</label>
        <div className="secret">
          <input
            id="new-secret"
            className="input mono"
            readOnly
            value={props.secret ?? ''}
            onFocus={(event) => event.target.select()}
          />
          <button type="button" className="button" onClick={copy}>
            Copy
          </button>
        </div>
      </div>
      <p className="hint" role="status" aria-live="polite">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copying failed: select the secret and copy it.'
            : ''}
      </p>
      <div className="actions">
        <button type="button" className="button primary" onClick={close}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
