/** No token yet: what a token is for, the first step, and how a service verifies one from code. */
export function EmptyTokens({ canCreate, onCreate }: { canCreate: boolean; onCreate: () => void }) {
  const origin = window.location.origin;
  return (
    <div className="empty">
      <h2>No tokens yet</h2>
      <p>
        Tokens are the bearer credentials your services and customers send with their requests.{' '}
        {canCreate
          ? 'Create your first token, then verify it from your code:'
          : 'An Owner or Admin creates them. Your services verify them like this:'}
      </p>
      {canCreate ? (
        <button type="button" className="button primary" onClick={onCreate}>
          Create your first token
        </button>
      ) : null}
      <figure className="snippet">
        <figcaption className="label">Verify a token from your code</figcaption>
        <pre>
          {`import { createVerifier } from '@tooken/client';

// An API key from Settings → API Keys. Verifies in your process; revocations arrive at once.
const verifier = createVerifier({ baseUrl: '${origin}', apiKey: process.env.TOOKEN_API_KEY });

const result = await verifier.verify(tokenFromRequest, { scopes: ['orders:read'] });
if (!result.valid) return reply.code(401).send();`}
        </pre>
      </figure>
    </div>
  );
}
