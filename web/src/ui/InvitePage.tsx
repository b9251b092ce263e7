// An invite link (`/invites/<token>`, as the REST API's inviteUrl gives it): see what it is for,
// choose a password (or give yours if you already have a Coffer account), and join; the keyring for
// the organisation is made in this page, as `coffer invites accept` makes it.
import { useEffect, useState, type FormEvent } from 'react';
import { ConsoleApi, type Invite } from '../coffer-api.js';
import { checkNewPassword } from '../membership.js';
import type { SignedIn } from '../sign-in.js';
import { messageOf } from './errors.js';
import { DERIVING_MESSAGE, join, JoinedPage, type Joined } from './JoinFlow.js';
import { NewPassword, type PasswordPair } from './NewPassword.js';
import { Alert } from './Alert.js';

export function InvitePage({ inviteToken, onSignedIn }: { inviteToken: string; onSignedIn: (signedIn: SignedIn) => void }) {
  const [invite, setInvite] = useState<Invite | undefined>();
  const [fullName, setFullName] = useState('');
  const [passwords, setPasswords] = useState<PasswordPair>({ password: '', confirmation: '' });
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [joined, setJoined] = useState<Joined | undefined>();

  useEffect(() => {
    new ConsoleApi()
      .invite(inviteToken)
      .then(setInvite)
      .catch((caught) => setError(messageOf(caught)));
  }, [inviteToken]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!invite) return;
    const refusal = checkNewPassword(passwords.password, passwords.confirmation);
    if (refusal) return setError(refusal);
    setError(undefined);
    setBusy(DERIVING_MESSAGE);
    const api = new ConsoleApi();
    const email = invite.email.toLowerCase();
    try {
      const done = await join({ organisationId: invite.organisationId, email, password: passwords.password }, (material) =>
        api.acceptInvite(inviteToken, { email, ...(fullName.trim() ? { fullName: fullName.trim() } : {}), loginHash: material.loginHash, keyring: material.keyring, token: material.tokenBody }),
      );
      setPasswords({ password: '', confirmation: '' });
      setJoined(done);
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(undefined);
    }
  }

  if (joined) return <JoinedPage headline={`You joined ${joined.membership.organisationName}.`} joined={joined} onSignedIn={onSignedIn} />;

  const disabled = busy !== undefined || !invite;
  return (
    <main className="sign-in">
      <h1>Join {invite ? invite.organisationName : 'an organisation'}</h1>
      {invite && (
        <p>
          This invite is for <strong>{invite.email}</strong>
          {invite.role ? ` as ${invite.role.name}` : ''}. If you already have a Coffer account, enter its password; otherwise choose one.
        </p>
      )}
      {invite && (
        <form onSubmit={submit} aria-label="Accept invite">
          <label>
            Your name (optional)
            <input maxLength={150} value={fullName} onChange={(event) => setFullName(event.target.value)} disabled={disabled} />
          </label>
          <NewPassword value={passwords} onChange={setPasswords} disabled={disabled} />
          <button type="submit" disabled={disabled}>
            {busy ?? 'Join'}
          </button>
        </form>
      )}
      <Alert message={error} />
    </main>
  );
}
