import { useWorkspace } from '../layout/workspace';

export function TokensPage() {
  const { workspace } = useWorkspace();
  return (
    <div className="page-header">
      <h1>Tokens</h1>
      <span className="hint">{workspace.name}</span>
    </div>
  );
}
