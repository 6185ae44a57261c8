/** The General tab of Settings: workspace name, slug, timezone, default expiration, audit log retention, custom scopes and the leak policy. A placeholder until its screen is built. */
export function GeneralTab() {
  return (
    <section className="card">
      <div className="card-body">
        <h2>General</h2>
        <p className="hint">
          This part of the dashboard is coming soon. Meanwhile, the API and the CLI manage workspace name,
          slug, timezone, default expiration, audit log retention, custom scopes and the leak policy.
        </p>
      </div>
    </section>
  );
}
