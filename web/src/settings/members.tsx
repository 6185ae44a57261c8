/** The Members tab of Settings: members, roles and invitations. A placeholder until its screen is built. */
export function MembersTab() {
  return (
    <section className="card">
      <div className="card-body">
        <h2>Members</h2>
        <p className="hint">
          This part of the dashboard is coming soon. Meanwhile, the API and the CLI manage members, roles and
          invitations.
        </p>
      </div>
    </section>
  );
}
