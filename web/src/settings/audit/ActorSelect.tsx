import { useQuery } from '@tanstack/react-query';
import { useWorkspace } from '../../layout/workspace';

/**
 * The actors one may filter by: the workspace's members and its API keys. An entry made by a
 * personal API key names the key as its actor, so the key is listed on its own.
 */
export function ActorSelect(props: { id: string; value: string; onChange: (actorId: string) => void }) {
  const { client, workspace } = useWorkspace();
  const members = useQuery({
    queryKey: ['members', workspace.slug, 'actors'],
    queryFn: () => client.members.list({ per_page: 100 }),
  });
  const keys = useQuery({
    queryKey: ['api-keys', workspace.slug, 'actors'],
    queryFn: () => client.apiKeys.list({ per_page: 100 }),
  });
  const memberList = members.data?.data ?? [];
  const keyList = keys.data?.data ?? [];
  const known =
    props.value === '' ||
    memberList.some((m) => m.user_id === props.value) ||
    keyList.some((k) => k.id === props.value);
  return (
    <select
      id={props.id}
      className="select"
      value={props.value}
      onChange={(event) => props.onChange(event.target.value)}
    >
      <option value="">Anyone</option>
      {known ? null : <option value={props.value}>{props.value}</option>}
      {memberList.length > 0 ? (
        <optgroup label="Members">
          {memberList.map((member) => (
            <option key={member.user_id} value={member.user_id}>
              {member.name ? `${member.name} (${member.email})` : member.email}
            </option>
          ))}
        </optgroup>
      ) : null}
      {keyList.length > 0 ? (
        <optgroup label="API keys">
          {keyList.map((key) => (
            <option key={key.id} value={key.id}>
              {key.name} ({key.kind})
            </option>
          ))}
        </optgroup>
      ) : null}
    </select>
  );
}
