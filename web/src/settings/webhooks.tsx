/** The Webhooks tab of Settings: webhook endpoints and their deliveries. A placeholder until its screen is built. */
export function WebhooksTab() {
  return (
    <section className="card">
      <div className="card-body">
        <h2>Webhooks</h2>
        <p className="hint">
          This part of the dashboard is coming soon. Meanwhile, the API and the CLI manage webhook endpoints
          and their deliveries.
        </p>
      </div>
    </section>
  );
}
