// "New app": a name and whether the server may ever read it (SSE) or only clients (E2EE).
import { useState, type FormEvent } from 'react';
import type { NewApp } from '../apps.js';
import { Alert } from './Alert.js';

export function NewAppForm({ onCreate, onCancel, failed }: { onCreate: (app: NewApp) => Promise<void>; onCancel: () => void; failed: (error: unknown) => string }) {
  const [name, setName] = useState('');
  const [endToEnd, setEndToEnd] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onCreate({ name, endToEnd });
    } catch (caught) {
      setError(failed(caught));
      setBusy(false);
    }
  }

  return (
    <form className="new-app" aria-label="New app" onSubmit={submit}>
      <label>
        Name
        <input required value={name} onChange={(event) => setName(event.target.value)} disabled={busy} />
      </label>
      <label className="check">
        <input type="checkbox" checked={endToEnd} onChange={(event) => setEndToEnd(event.target.checked)} disabled={busy} />
        End-to-end encrypted
      </label>
      <p className="hint">
        {endToEnd
          ? 'Only clients (this console, the CLI, the SDKs) can read it; the server never can, so the plaintext REST API cannot write to it.'
          : 'Server-side encrypted: the server can decrypt it, which the plaintext REST API needs.'}
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create app'}
      </button>
      <button type="button" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
      <Alert message={error} />
    </form>
  );
}
