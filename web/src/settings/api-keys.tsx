/** The API Keys tab of Settings: personal and team API keys. A placeholder until its screen is built. */
export function ApiKeysTab() {
  return (
    <section className="card">
      <div className="card-body">
        <h2>API Keys</h2>
        <p className="hint">
          This part of the dashboard is coming soon. Meanwhile, the API and the CLI manage personal and team
          API keys.
        </p>
      </div>
    </section>
  );
}
