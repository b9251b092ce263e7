// One organisation: its apps down the side (those this account holds keys for), an app's
// environments as tabs, and the selected environment's secrets.
import { useState } from 'react';
import { createApp, type NewApp } from '../apps.js';
import type { SignedIn } from '../sign-in.js';
import { isSignedOut, messageOf, SIGNED_OUT_MESSAGE } from './errors.js';
import { MembersPage } from './MembersPage.js';
import { NewAppForm } from './NewAppForm.js';
import { SecretsTable } from './SecretsTable.js';

export function Workspace({ signedIn, onSignOut }: { signedIn: SignedIn; onSignOut: (reason?: string) => Promise<void> }) {
  const [session, setSession] = useState(signedIn.session);
  const [appId, setAppId] = useState(session.apps[0]?.id);
  const app = session.apps.find((a) => a.id === appId);
  const [envId, setEnvId] = useState(app?.environments[0]?.id);
  const env = app?.environments.find((e) => e.id === envId) ?? app?.environments[0];
  const [signingOut, setSigningOut] = useState(false);
  const [creatingApp, setCreatingApp] = useState(false);
  const [view, setView] = useState<'secrets' | 'members'>('secrets');
  const [notice, setNotice] = useState<string | undefined>();

  /** The message for a failed call; a token no longer accepted goes back to sign-in. */
  function failed(caught: unknown): string {
    if (isSignedOut(caught)) void onSignOut(SIGNED_OUT_MESSAGE);
    return messageOf(caught);
  }

  async function create(app: NewApp) {
    const id = await createApp(signedIn, app);
    // Created: from here on a failure must not read as "not created" (a retry would make a second app).
    setCreatingApp(false);
    setView('secrets');
    try {
      const next = await signedIn.reopen();
      setSession(next);
      setAppId(id);
      setEnvId(next.apps.find((a) => a.id === id)?.environments[0]?.id);
      setNotice(undefined);
    } catch (caught) {
      setNotice(`App '${app.name.trim()}' was created, but this page could not load its keys: ${failed(caught)} Sign out and in again to see it.`);
    }
  }

  return (
    <div className="workspace">
      <header>
        <strong>Coffer</strong>
        <span className="organisation">{signedIn.organisation.organisationName}</span>
        <button type="button" className="link" aria-pressed={view === 'secrets'} onClick={() => setView('secrets')}>
          Secrets
        </button>
        <button type="button" className="link" aria-pressed={view === 'members'} onClick={() => setView('members')}>
          Members
        </button>
        <span className="spacer" />
        <span className="who">{signedIn.email}</span>
        <button
          type="button"
          disabled={signingOut}
          onClick={() => {
            setSigningOut(true);
            void onSignOut();
          }}
        >
          Sign out
        </button>
      </header>
      <nav aria-label="Apps">
        <h2>Apps</h2>
        {session.apps.length === 0 && !creatingApp && <p className="hint">No app is shared with you yet. Create one, or ask an owner to add you to one.</p>}
        <ul>
          {session.apps.map((a) => (
            <li key={a.id}>
              <button
                type="button"
                aria-current={a.id === app?.id ? 'page' : undefined}
                onClick={() => {
                  setView('secrets');
                  setAppId(a.id);
                  setEnvId(a.environments[0]?.id);
                }}
              >
                {a.name}
                <span className={`badge ${a.encryption === 'SSE' ? 'sse' : 'e2ee'}`}>{a.encryption === 'SSE' ? 'SSE' : 'E2EE'}</span>
              </button>
            </li>
          ))}
        </ul>
        {creatingApp ? (
          <NewAppForm onCreate={create} onCancel={() => setCreatingApp(false)} failed={failed} />
        ) : (
          <button type="button" className="link" onClick={() => setCreatingApp(true)}>
            + New app
          </button>
        )}
      </nav>
      <main>
        {notice && (
          <p role="status" className="notice">
            {notice}
          </p>
        )}
        {view === 'members' && <MembersPage rest={signedIn.rest} session={session} self={signedIn.email} failed={failed} />}
        {view === 'secrets' && app && (
          <>
            <h1>{app.name}</h1>
            <div role="tablist" aria-label="Environments" className="tabs">
              {app.environments.map((e) => (
                <button key={e.id} type="button" role="tab" aria-selected={e.id === env?.id} onClick={() => setEnvId(e.id)}>
                  {e.name}
                </button>
              ))}
            </div>
            {env ? <SecretsTable key={env.id} session={session} env={env} failed={failed} /> : <p className="hint">You hold no environment of this app.</p>}
          </>
        )}
      </main>
    </div>
  );
}
