import { useState } from 'react';

/** The ten recovery codes, shown this once, with Copy; `onDone` forgets them. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(codes.join('\n'));
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section className="stack" aria-labelledby="recovery-codes-title">
      <div className="alert info" role="status">
        Two-factor authentication is on.
      </div>
      <h3 id="recovery-codes-title">Recovery codes</h3>
      <p>
        Save these codes somewhere safe now: they are shown only once. Each signs you in once if you lose your
        authenticator app.
      </p>
      <ul className="recovery-codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <p className="hint" role="status" aria-live="polite">
        {copied === 'yes'
          ? 'Copied to the clipboard.'
          : copied === 'failed'
            ? 'Copying failed: select the codes and copy them.'
            : ''}
      </p>
      <div className="actions">
        <button type="button" className="button" onClick={copy}>
          Copy
        </button>
        <button type="button" className="button primary" onClick={onDone}>
          I have saved my recovery codes
        </button>
      </div>
    </section>
  );
}
