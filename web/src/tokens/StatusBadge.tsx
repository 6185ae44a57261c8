import { STATUS_NAMES, type Status } from './format';

export function StatusBadge({ status }: { status: Status }) {
  return <span className={`badge ${status}`}>{STATUS_NAMES[status]}</span>;
}

export function Scopes({ scopes }: { scopes: readonly string[] }) {
  return (
    <span className="chips">
      {scopes.map((scope) => (
        <span key={scope} className="chip">
          {scope}
        </span>
      ))}
    </span>
  );
}
