// The console's two states: signed out (the sign-in page) and signed in to one organisation.
import { useEffect, useState } from 'react';
import type { SignedIn } from '../sign-in.js';
import { SignInPage } from './SignInPage.js';
import { Workspace } from './Workspace.js';

export function ConsoleApp() {
  const [signedIn, setSignedIn] = useState<SignedIn | undefined>();

  // Closing the tab leaves the token to expire on its own (12 h); sign out revokes it at once.
  useEffect(() => {
    document.title = signedIn ? `${signedIn.organisation.organisationName} · Coffer` : 'Sign in · Coffer';
  }, [signedIn]);

  if (!signedIn) return <SignInPage onSignedIn={setSignedIn} />;
  return (
    <Workspace
      signedIn={signedIn}
      onSignOut={async () => {
        await signedIn.signOut();
        setSignedIn(undefined);
      }}
    />
  );
}
