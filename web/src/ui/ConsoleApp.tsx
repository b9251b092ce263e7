// The console's states: an invite link, first-run setup, signed out (sign in), signed in to one
// organisation. An invite is recognised by its path (/invites/<token>, served the same page).
import { useEffect, useRef, useState } from 'react';
import { ConsoleApi } from '../coffer-api.js';
import type { SignedIn } from '../sign-in.js';
import { Alert } from './Alert.js';
import { messageOf } from './errors.js';
import { InvitePage } from './InvitePage.js';
import { SetupPage } from './SetupPage.js';
import { SignInPage } from './SignInPage.js';
import { Workspace } from './Workspace.js';

const INVITE_PATH = /^\/invites\/([^/]+)\/?$/;

export function ConsoleApp() {
  const [signedIn, setSignedIn] = useState<SignedIn | undefined>();
  const [inviteToken, setInviteToken] = useState(() => INVITE_PATH.exec(window.location.pathname)?.[1]);
  const [setupRequired, setSetupRequired] = useState<boolean | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  // Several calls can find the token gone at once: sign out once.
  const signingOut = useRef(false);

  useEffect(() => {
    if (inviteToken) return;
    new ConsoleApi()
      .setupRequired()
      .then(setSetupRequired)
      .catch((caught) => setError(messageOf(caught)));
  }, [inviteToken]);

  useEffect(() => {
    document.title = signedIn ? `${signedIn.organisation.organisationName} · Coffer` : 'Coffer';
  }, [signedIn]);

  function enter(next: SignedIn) {
    // The invite token stays out of the address bar (and of history) once it is used.
    if (inviteToken) window.history.replaceState(null, '', '/console/');
    setInviteToken(undefined);
    setSetupRequired(false);
    setNotice(undefined);
    signingOut.current = false;
    setSignedIn(next);
  }

  if (signedIn) {
    return (
      <Workspace
        signedIn={signedIn}
        onSignOut={async (reason) => {
          if (signingOut.current) return;
          signingOut.current = true;
          const failure = await signedIn.signOut();
          setNotice([reason, failure].filter(Boolean).join(' ') || undefined);
          setSignedIn(undefined);
        }}
      />
    );
  }
  if (inviteToken) return <InvitePage inviteToken={safeDecode(inviteToken)} onSignedIn={enter} />;
  if (error)
    return (
      <main className="sign-in">
        <Alert message={error} />
      </main>
    );
  if (setupRequired === undefined) return null;
  if (setupRequired) return <SetupPage onSignedIn={enter} />;
  return <SignInPage onSignedIn={enter} notice={notice} />;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
