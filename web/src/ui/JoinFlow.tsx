// What setup and invite acceptance share after their form: derive the membership in the page,
// send it, show the recovery phrase once, then open the organisation signed in.
import { useState } from 'react';
import type { NewMembership } from '../coffer-api.js';
import { newMembershipMaterial, type MembershipMaterial } from '../membership.js';
import { signInAfterJoining, type SignedIn } from '../sign-in.js';
import { messageOf } from './errors.js';
import { RecoveryPhrase } from './RecoveryPhrase.js';
import { Alert } from './Alert.js';

export interface Joined {
  material: MembershipMaterial;
  membership: NewMembership;
  email: string;
}

export const DERIVING_MESSAGE = 'Deriving your keys (Argon2id, 1 GiB; this takes several seconds)…';

/** Derives the membership, then `send`s it; the phrase step follows on success. */
export async function join(input: { organisationId?: string; email: string; password: string }, send: (material: MembershipMaterial) => Promise<NewMembership>): Promise<Joined> {
  const material = await newMembershipMaterial(input);
  const membership = await send(material);
  return { material, membership, email: input.email };
}

export function AfterJoining({ joined, onSignedIn }: { joined: Joined; onSignedIn: (signedIn: SignedIn) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  return (
    <>
      <RecoveryPhrase
        phrase={joined.material.recoveryPhrase}
        organisationName={joined.membership.organisationName}
        busy={busy}
        onContinue={async () => {
          setBusy(true);
          setError(undefined);
          try {
            onSignedIn(
              await signInAfterJoining({
                email: joined.email,
                loginHash: joined.material.loginHash,
                organisationId: joined.membership.organisationId,
                token: joined.material.token,
                tokenId: joined.membership.tokenId,
              }),
            );
          } catch (caught) {
            setError(messageOf(caught));
            setBusy(false);
          }
        }}
      />
      <Alert message={error} />
    </>
  );
}

/** The page after setup or an accepted invite: what happened, then the phrase step. */
export function JoinedPage({ headline, joined, onSignedIn }: { headline: string; joined: Joined; onSignedIn: (signedIn: SignedIn) => void }) {
  return (
    <main className="sign-in">
      <h1>Coffer</h1>
      <p>{headline}</p>
      <AfterJoining joined={joined} onSignedIn={onSignedIn} />
    </main>
  );
}
