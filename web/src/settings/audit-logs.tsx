/** The Audit Logs tab of Settings: the audit log with filters and CSV export. A placeholder until its screen is built. */
export function AuditLogsTab() {
  return (
    <section className="card">
      <div className="card-body">
        <h2>Audit Logs</h2>
        <p className="hint">
          This part of the dashboard is coming soon. Meanwhile, the API and the CLI manage the audit log with
          filters and CSV export.
        </p>
      </div>
    </section>
  );
}
