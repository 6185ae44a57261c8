import { useId, useState } from 'react';

/** An invitation's link in a read-only field with Copy link: to pass on when no email reaches them. */
export function CopyLink({ url, email }: { url: string; email: string }) {
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <div>
      <div className="link-copy">
        <label htmlFor={id} className="sr-only">
          Invitation link for {email}
        </label>
        <input
          id={id}
          className="input mono"
          readOnly
          value={url}
          onFocus={(event) => event.target.select()}
        />
        <button type="button" className="button small" onClick={copy} aria-label={`Copy link for ${email}`}>
          Copy link
        </button>
      </div>
      <span className="hint" role="status" aria-live="polite">
        {copied === 'yes'
          ? 'Copied.'
          : copied === 'failed'
            ? 'Copying failed: select the link and copy it.'
            : ''}
      </span>
    </div>
  );
}
