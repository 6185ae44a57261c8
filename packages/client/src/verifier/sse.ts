/** One server-sent event: its name (`message` when unnamed) and data lines joined. */
export interface ServerEvent {
  event: string;
  data: string;
}

/**
 * Reads server-sent events from a streaming response body (no EventSource needed): calls `onEvent`
 * for each event, ignores comments, and resolves when the body ends.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: ServerEvent) => void,
  onData: () => void = () => {},
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0 || event !== '') onEvent({ event: event || 'message', data: data.join('\n') });
      event = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onData();
      buffer += decoder.decode(value, { stream: true });
      let cut = buffer.indexOf('\n');
      while (cut !== -1) {
        line(buffer.slice(0, cut).replace(/\r$/, ''));
        buffer = buffer.slice(cut + 1);
        cut = buffer.indexOf('\n');
      }
    }
  } finally {
    reader.releaseLock();
  }
}
