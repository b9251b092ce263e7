// First run: no organisation exists yet. The one-time setup code from the server's log creates
// the first organisation with its owner (what `coffer setup` does), all keys made in this page.
import { useState, type FormEvent } from 'react';
import { ConsoleApi } from '../coffer-api.js';
import { checkNewPassword } from '../membership.js';
import { normaliseEmail, type SignedIn } from '../sign-in.js';
import { messageOf } from './errors.js';
import { DERIVING_MESSAGE, join, JoinedPage, type Joined } from './JoinFlow.js';
import { NewPassword, type PasswordPair } from './NewPassword.js';
import { Alert } from './Alert.js';

export function SetupPage({ onSignedIn }: { onSignedIn: (signedIn: SignedIn) => void }) {
  const [form, setForm] = useState({ code: '', organisation: '', email: '', fullName: '' });
  const [passwords, setPasswords] = useState<PasswordPair>({ password: '', confirmation: '' });
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [joined, setJoined] = useState<Joined | undefined>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const refusal = checkNewPassword(passwords.password, passwords.confirmation);
    if (refusal) return setError(refusal);
    setError(undefined);
    const api = new ConsoleApi();
    const email = normaliseEmail(form.email);
    try {
      setBusy('Checking the setup code…');
      // A mistyped code fails now, not after seconds of key derivation.
      await api.checkSetupCode(form.code.trim());
      setBusy(DERIVING_MESSAGE);
      const done = await join({ email, password: passwords.password }, (material) =>
        api.completeSetup({
          code: form.code.trim(),
          organisation: { id: material.organisationId, name: form.organisation.trim() },
          user: { email, ...(form.fullName.trim() ? { fullName: form.fullName.trim() } : {}), loginHash: material.loginHash },
          keyring: material.keyring,
          token: material.tokenBody,
        }),
      );
      setPasswords({ password: '', confirmation: '' });
      setJoined(done);
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(undefined);
    }
  }

  if (joined) return <JoinedPage headline={`Organisation ${joined.membership.organisationName} is ready, and you are its owner.`} joined={joined} onSignedIn={onSignedIn} />;

  const disabled = busy !== undefined;
  return (
    <main className="sign-in">
      <h1>Set up Coffer</h1>
      <p className="hint">No organisation exists yet. Create the first one; you become its owner. The setup code is in the server's log.</p>
      <form onSubmit={submit} aria-label="Setup">
        <label>
          Setup code
          <input required value={form.code} onChange={(event) => setForm({ ...form, code: event.target.value })} disabled={disabled} autoComplete="off" spellCheck={false} />
        </label>
        <label>
          Organisation name
          <input required maxLength={64} value={form.organisation} onChange={(event) => setForm({ ...form, organisation: event.target.value })} disabled={disabled} />
        </label>
        <label>
          E-mail
          <input type="text" inputMode="email" autoCapitalize="off" spellCheck={false} maxLength={254} autoComplete="username" required value={form.email} onChange={(event) => setForm({ ...form, email: event.target.value })} disabled={disabled} />
        </label>
        <label>
          Your name (optional)
          <input maxLength={150} value={form.fullName} onChange={(event) => setForm({ ...form, fullName: event.target.value })} disabled={disabled} />
        </label>
        <NewPassword value={passwords} onChange={setPasswords} disabled={disabled} />
        <button type="submit" disabled={disabled}>
          {busy ?? 'Create organisation'}
        </button>
      </form>
      <Alert message={error} />
    </main>
  );
}
