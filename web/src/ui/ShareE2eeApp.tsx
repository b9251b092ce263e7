// Handing an end-to-end encrypted app to a member (Coffer's E2EE grants, docs/client-protocol.md):
// the server cannot wrap an E2EE environment's keys for anyone, so this page does it, from the keys
// it holds, to the member's identity key. The server checks the caller may change access and holds
// each environment it passes on.
import { useState, type FormEvent } from 'react';
import type { PhaseSession } from '../../../src/client/phase-protocol.js';
import { Alert } from './Alert.js';

export function ShareE2eeApp({ session, member, failed, onDone }: { session: PhaseSession; member: { id: string; email: string }; failed: (error: unknown) => string; onDone: (message: string) => void }) {
  const apps = session.apps.filter((app) => app.encryption !== 'SSE');
  const [appId, setAppId] = useState(apps[0]?.id ?? '');
  const app = apps.find((a) => a.id === appId);
  const [environments, setEnvironments] = useState<Set<string>>(() => new Set(apps[0]?.environments.map((e) => e.name)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  if (apps.length === 0) return <p className="hint">You hold no end-to-end encrypted app to share.</p>;

  async function share(event: FormEvent) {
    event.preventDefault();
    if (!app || environments.size === 0) return setError('Pick at least one environment.');
    setBusy(true);
    setError(undefined);
    try {
      const names = app.environments.map((e) => e.name).filter((name) => environments.has(name));
      const answer = await session.grantE2ee(app.id, { type: 'member', id: member.id }, names);
      const granted = app.environments.filter((e) => answer.environmentsGranted.includes(e.id)).map((e) => e.name);
      onDone(granted.length > 0 ? `${member.email} now holds ${app.name}: ${granted.join(', ')}.` : `${member.email} already held those environments of ${app.name}.`);
    } catch (caught) {
      setError(failed(caught));
      setBusy(false);
    }
  }

  return (
    <form className="secret-form" aria-label={`Share with ${member.email}`} onSubmit={share}>
      <label>
        App
        <select
          value={appId}
          onChange={(event) => {
            setAppId(event.target.value);
            setEnvironments(new Set(apps.find((a) => a.id === event.target.value)?.environments.map((e) => e.name)));
          }}
          disabled={busy}
        >
          {apps.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
      </label>
      {app?.environments.map((env) => (
        <label key={env.id} className="check">
          <input
            type="checkbox"
            checked={environments.has(env.name)}
            disabled={busy}
            onChange={(event) => {
              const next = new Set(environments);
              if (event.target.checked) next.add(env.name);
              else next.delete(env.name);
              setEnvironments(next);
            }}
          />
          {env.name}
        </label>
      ))}
      <button type="submit" disabled={busy}>
        {busy ? 'Sharing…' : 'Share'}
      </button>
      <Alert message={error} />
    </form>
  );
}
