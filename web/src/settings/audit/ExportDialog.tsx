import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { formErrors } from '../../api/errors';
import { useWorkspace } from '../../layout/workspace';
import { Dialog } from '../../ui/Dialog';
import { FormError } from '../../ui/states';
import { DateField } from './DateField';
import { dayRange } from './time';

/** Hands the browser a file to save, as a download (the page keeps no copy). */
async function saveAs(stream: ReadableStream<Uint8Array>, filename: string): Promise<void> {
  const blob = await new Response(stream).blob();
  const url = URL.createObjectURL(new Blob([blob], { type: 'text/csv' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once it started; the next task is late enough to let go.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/**
 * Export → a CSV file of the entries of a range of days in the workspace's timezone (both days
 * included; either left empty means "from the oldest retained" / "up to now").
 */
export function ExportDialog(props: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  from: string;
  to: string;
}) {
  return (
    <Dialog
      open={props.open}
      onOpenChange={props.onOpenChange}
      title="Export CSV"
      description="Every entry of the chosen days, oldest first, as a CSV file. Leave a date empty to export from the oldest retained entry or up to now."
    >
      {props.open ? (
        <ExportForm from={props.from} to={props.to} onDone={() => props.onOpenChange(false)} />
      ) : null}
    </Dialog>
  );
}

function ExportForm(props: { from: string; to: string; onDone: () => void }) {
  const { client, settings, workspace } = useWorkspace();
  const zone = settings?.timezone ?? 'UTC';
  const [from, setFrom] = useState(props.from);
  const [to, setTo] = useState(props.to);
  const [local, setLocal] = useState<Record<string, string>>({});
  const download = useMutation({
    mutationFn: async () => {
      const stream = await client.audit.export(dayRange(from, to, zone));
      await saveAs(stream, `tooken-audit-${workspace.slug}-${from || 'all'}-${to || 'all'}.csv`);
    },
    onSuccess: props.onDone,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problems: Record<string, string> = {};
    if (from && to && to < from) problems.to = 'The last day must be on or after the first day.';
    setLocal(problems);
    if (Object.keys(problems).length === 0) download.mutate();
  };
  const server = formErrors(download.error, ['from', 'to']);
  const errors = { ...server.fields, ...local };
  return (
    <form className="form" onSubmit={submit} noValidate>
      <FormError message={server.form} />
      <div className="inline date-range">
        <DateField label="From" name="from" value={from} onChange={setFrom} error={errors.from} />
        <DateField label="To" name="to" value={to} onChange={setTo} error={errors.to} />
      </div>
      <p className="hint">Days in the workspace timezone, {zone}; both days are included.</p>
      <div className="actions">
        <button type="button" className="button" onClick={props.onDone}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={download.isPending}>
          {download.isPending ? 'Preparing…' : 'Download CSV'}
        </button>
      </div>
    </form>
  );
}
