// The secrets of one environment, decrypted in this tab: values hidden until shown, references
// such as ${staging.DB_URL} shown as written, and adding, editing and deleting in place. Every
// change is encrypted here with the environment's key before it is sent. A sealed secret's value
// is never shown or changed here (Phase's rule; the server keeps a sealed value on update).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { PhaseSession, PlainSecret, UnlockedEnvironment } from '../../../src/client/phase-protocol.js';
import { Alert } from './Alert.js';

type SecretType = 'secret' | 'sealed' | 'config';

interface Draft {
  key: string;
  value: string;
  comment: string;
  path: string;
  type: SecretType;
}

const EMPTY_DRAFT: Draft = { key: '', value: '', comment: '', path: '/', type: 'secret' };

/** The CLI's rule (src/cli/commands/secrets/shared.ts); the server stores the name upper-cased. */
function checkDraft(draft: Draft): string | undefined {
  if (draft.key.trim() === '') return 'A secret needs a name, such as DATABASE_URL.';
  return undefined;
}

const isSealed = (secret: PlainSecret) => secret.type === 'sealed';

export function SecretsTable({ session, env, failed }: { session: PhaseSession; env: UnlockedEnvironment; failed: (error: unknown) => string }) {
  const [secrets, setSecrets] = useState<PlainSecret[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [filter, setFilter] = useState('');
  const [revealed, setRevealed] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<{ id: string; draft: Draft; sealed: boolean } | undefined>();
  const [adding, setAdding] = useState<Draft | undefined>();
  const [confirmDelete, setConfirmDelete] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const listed = await session.list(env, { resolveReferences: false });
      listed.sort((a, b) => a.path.localeCompare(b.path) || a.key.localeCompare(b.key));
      setSecrets(listed);
    } catch (caught) {
      setError(failed(caught));
    }
  }, [session, env]);

  useEffect(() => {
    void load();
  }, [load]);

  async function change(run: () => Promise<void>) {
    setBusy(true);
    setError(undefined);
    try {
      await run();
      await load();
      return true;
    } catch (caught) {
      setError(failed(caught));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function saveNew(event: FormEvent) {
    event.preventDefault();
    if (!adding) return;
    const draft = adding;
    const refusal = checkDraft(draft);
    if (refusal) return setError(refusal);
    const done = await change(() => session.create(env, [{ key: draft.key.trim(), value: draft.value, comment: draft.comment, path: draft.path || '/', type: draft.type }]));
    if (done) setAdding(undefined);
  }

  async function saveEdit(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    const { id, draft, sealed } = editing;
    const refusal = checkDraft(draft);
    if (refusal) return setError(refusal);
    const done = await change(() =>
      session.update(env, [{ id, key: draft.key.trim(), ...(sealed ? {} : { value: draft.value }), comment: draft.comment, path: draft.path || '/' }]),
    );
    if (done) setEditing(undefined);
  }

  const shown = (secrets ?? []).filter((s) => s.key.toLowerCase().includes(filter.trim().toLowerCase()));

  return (
    <section aria-label={`Secrets of ${env.name}`}>
      <div className="toolbar">
        <input type="search" placeholder="Filter by key" aria-label="Filter by key" value={filter} onChange={(event) => setFilter(event.target.value)} />
        <span className="spacer" />
        <button type="button" onClick={() => setAdding({ ...EMPTY_DRAFT })} disabled={adding !== undefined}>
          Add secret
        </button>
      </div>
      <Alert message={error} />
      {adding && (
        <form className="secret-form" aria-label="New secret" onSubmit={saveNew}>
          <DraftFields draft={adding} onChange={setAdding} withValue withType />
          <button type="submit" disabled={busy}>
            Save
          </button>
          <button type="button" onClick={() => setAdding(undefined)}>
            Cancel
          </button>
        </form>
      )}
      {secrets === undefined && !error && <p className="hint">Decrypting…</p>}
      {secrets !== undefined && secrets.length === 0 && <p className="hint">No secrets in {env.name} yet.</p>}
      {secrets !== undefined && secrets.length > 0 && shown.length === 0 && <p className="hint">No secret name contains “{filter.trim()}”.</p>}
      {shown.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              <th>Comment</th>
              <th>Path</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {shown.map((s) =>
              editing?.id === s.id ? (
                <tr key={s.id}>
                  <td colSpan={5}>
                    <form className="secret-form" aria-label={`Edit ${s.key}`} onSubmit={saveEdit}>
                      <DraftFields draft={editing.draft} onChange={(draft) => setEditing({ ...editing, draft })} withValue={!editing.sealed} withType={false} />
                      <button type="submit" disabled={busy}>
                        Save
                      </button>
                      <button type="button" onClick={() => setEditing(undefined)}>
                        Cancel
                      </button>
                    </form>
                  </td>
                </tr>
              ) : (
                <tr key={s.id} data-key={s.key}>
                  <td className="key">{s.key}</td>
                  <td className="value">
                    {isSealed(s) ? (
                      <span className="masked" title="A sealed value is never shown; only the SDKs and `coffer run` receive it.">
                        sealed
                      </span>
                    ) : revealed.has(s.id) ? (
                      <code>{s.sharedValue}</code>
                    ) : (
                      <span className="masked">••••••••</span>
                    )}
                    {s.type === 'config' && <span className="badge">config</span>}
                    {s.override?.isActive && <span className="badge">personal override</span>}
                    {!isSealed(s) && (
                      <button type="button" className="link" onClick={() => setRevealed(toggle(revealed, s.id))}>
                        {revealed.has(s.id) ? 'Hide' : 'Show'}
                      </button>
                    )}
                    {!isSealed(s) && revealed.has(s.id) && s.override?.isActive && (
                      <div className="override">
                        your override: <code>{s.override.value}</code>
                      </div>
                    )}
                  </td>
                  <td>{s.comment}</td>
                  <td>{s.path}</td>
                  <td className="actions">
                    <button type="button" className="link" onClick={() => setEditing({ id: s.id, sealed: isSealed(s), draft: { key: s.key, value: isSealed(s) ? '' : s.sharedValue, comment: s.comment, path: s.path, type: s.type as SecretType } })}>
                      Edit
                    </button>
                    {confirmDelete === s.id ? (
                      <button
                        type="button"
                        className="danger"
                        disabled={busy}
                        onClick={() => {
                          setConfirmDelete(undefined);
                          void change(() => session.delete(env, [s.id]));
                        }}
                      >
                        Confirm delete
                      </button>
                    ) : (
                      <button type="button" className="link" onClick={() => setConfirmDelete(s.id)}>
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}

function DraftFields({ draft, onChange, withValue, withType }: { draft: Draft; onChange: (draft: Draft) => void; withValue: boolean; withType: boolean }) {
  return (
    <>
      <label>
        Key
        <input required value={draft.key} onChange={(event) => onChange({ ...draft, key: event.target.value })} autoComplete="off" spellCheck={false} />
      </label>
      {withValue && (
        <label>
          Value
          <textarea value={draft.value} onChange={(event) => onChange({ ...draft, value: event.target.value })} autoComplete="off" spellCheck={false} rows={2} />
        </label>
      )}
      {withType && (
        <label>
          Type
          <select value={draft.type} onChange={(event) => onChange({ ...draft, type: event.target.value as SecretType })}>
            <option value="secret">secret</option>
            <option value="sealed">sealed (never shown again)</option>
            <option value="config">config</option>
          </select>
        </label>
      )}
      <label>
        Comment
        <input value={draft.comment} onChange={(event) => onChange({ ...draft, comment: event.target.value })} />
      </label>
      <label>
        Path
        <input value={draft.path} onChange={(event) => onChange({ ...draft, path: event.target.value })} spellCheck={false} />
      </label>
    </>
  );
}

function toggle(set: Set<string>, id: string): Set<string> {
  const next = new Set(set);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}
