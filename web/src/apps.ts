// Creating an app from the console. SSE apps through Phase's REST API (the server makes and keeps
// the environment keys); end-to-end encrypted apps through the client protocol, whose keys are made
// and wrapped here for this account and everyone with global access (docs/client-protocol.md).
import type { SignedIn } from './sign-in.js';

export interface NewApp {
  name: string;
  description?: string;
  endToEnd: boolean;
}

/** The new app's id. Its keys reach the page with the next session (SignedIn.reopen). */
export async function createApp(signedIn: SignedIn, app: NewApp): Promise<string> {
  const description = app.description?.trim() ? { description: app.description.trim() } : {};
  if (app.endToEnd) return (await signedIn.session.createE2eeApp({ name: app.name.trim(), ...description })).id;
  return (await signedIn.rest.call<{ id: string }>('POST', '/v1/apps/', { name: app.name.trim(), ...description })).id;
}
