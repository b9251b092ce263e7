// Sign in: e-mail and password, then (for people in several organisations) which one to open.
// Deriving the keys takes a few seconds by design (Argon2id, 256 MiB): the button says so.
import { useState, type FormEvent } from 'react';
import { signIn, type PendingSignIn, type SignedIn } from '../sign-in.js';
import { messageOf } from './errors.js';
import { Alert } from './Alert.js';

export function SignInPage({ onSignedIn, notice }: { onSignedIn: (signedIn: SignedIn) => void; notice?: string | undefined }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [pending, setPending] = useState<PendingSignIn | undefined>();
  const [organisationId, setOrganisationId] = useState('');

  async function open(from: PendingSignIn, id: string) {
    setBusy('Unlocking your keyring…');
    try {
      onSignedIn(await from.open(id));
    } catch (caught) {
      setPending(undefined);
      setError(messageOf(caught));
      setBusy(undefined);
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    setBusy('Deriving your keys…');
    try {
      const started = await signIn({ email, password });
      setPassword('');
      if (started.memberships.length === 1) return await open(started, started.memberships[0]!.organisationId);
      setPending(started);
      setOrganisationId(started.memberships[0]!.organisationId);
      setBusy(undefined);
    } catch (caught) {
      setError(messageOf(caught));
      setBusy(undefined);
    }
  }

  return (
    <main className="sign-in">
      <h1>Coffer</h1>
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {pending ? (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void open(pending, organisationId);
          }}
        >
          <label>
            Organisation
            <select value={organisationId} onChange={(event) => setOrganisationId(event.target.value)} disabled={busy !== undefined}>
              {pending.memberships.map((m) => (
                <option key={m.organisationId} value={m.organisationId}>
                  {m.organisationName}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy !== undefined}>
            {busy ?? 'Open'}
          </button>
          <button
            type="button"
            disabled={busy !== undefined}
            onClick={() => {
              void pending.cancel();
              setPending(undefined);
            }}
          >
            Back
          </button>
        </form>
      ) : (
        <form onSubmit={submit}>
          <label>
            E-mail
            <input type="text" inputMode="email" autoCapitalize="off" spellCheck={false} maxLength={254} autoComplete="username" required value={email} onChange={(event) => setEmail(event.target.value)} disabled={busy !== undefined} />
          </label>
          <label>
            Password
            <input type="password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.target.value)} disabled={busy !== undefined} />
          </label>
          <button type="submit" disabled={busy !== undefined}>
            {busy ?? 'Sign in'}
          </button>
        </form>
      )}
      <Alert message={error} />
      <p className="hint">Your password never leaves this page: it derives your keys here, and the server only ever sees what they sign and encrypt.</p>
    </main>
  );
}
