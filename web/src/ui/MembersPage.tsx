// The organisation's people (Phase's REST API with the tab's token): members and their roles,
// pending invites, and inviting someone, whose one-time link is shown here to pass on. What the
// caller may see and do is the server's decision; its refusal is shown as it words it.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { PhaseSession } from '../../../src/client/phase-protocol.js';
import type { RestApi } from '../coffer-api.js';
import { ShareE2eeApp } from './ShareE2eeApp.js';
import { Alert } from './Alert.js';

interface RoleRef {
  id: string;
  name: string;
  isDefault?: boolean;
}

/** Phase's rule: nobody is invited straight into a global-access default role. */
const invitable = (role: RoleRef) => !(role.isDefault && (role.name === 'Owner' || role.name === 'Admin'));
interface Member {
  id: string;
  email: string;
  fullName: string | null;
  role: RoleRef | null;
  createdAt: string;
}
interface Invite {
  id: string;
  inviteeEmail: string;
  role: RoleRef | null;
  expiresAt: string;
}

export function MembersPage({ rest, session, self, failed }: { rest: RestApi; session: PhaseSession; self: string; failed: (error: unknown) => string }) {
  const [members, setMembers] = useState<Member[] | undefined>();
  const [invites, setInvites] = useState<Invite[]>([]);
  const [roles, setRoles] = useState<RoleRef[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [email, setEmail] = useState('');
  const [roleId, setRoleId] = useState('');
  const [link, setLink] = useState<{ email: string; url: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const [sharingWith, setSharingWith] = useState<string | undefined>();
  const [shared, setShared] = useState<string | undefined>();

  const load = useCallback(async () => {
    try {
      const [m, r] = await Promise.all([rest.call<{ data: Member[] }>('GET', '/v1/members/'), rest.call<{ data: RoleRef[] }>('GET', '/v1/roles/')]);
      setMembers(m.data);
      const offered = r.data.filter(invitable);
      setRoles(offered);
      setRoleId((current) => current || offered.find((role) => role.name === 'Developer')?.id || offered[0]?.id || '');
      // Reading invites may be refused where members are not: show what there is.
      setInvites((await rest.call<{ data: Invite[] }>('GET', '/v1/members/invites/').catch(() => ({ data: [] }))).data);
    } catch (caught) {
      setError(failed(caught));
    }
  }, [rest]);

  useEffect(() => {
    void load();
  }, [load]);

  async function invite(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await rest.call<{ inviteeEmail: string; inviteUrl: string }>('POST', '/v1/members/invites/', { email: email.trim(), role_id: roleId });
      setLink({ email: created.inviteeEmail, url: created.inviteUrl });
      setEmail('');
      await load();
    } catch (caught) {
      setError(failed(caught));
    } finally {
      setBusy(false);
    }
  }

  async function cancelInvite(invite: Invite) {
    setError(undefined);
    try {
      await rest.call('DELETE', `/v1/members/invites/${encodeURIComponent(invite.id)}/`);
      // The link on screen, if it is this invite's, no longer works.
      setLink((shown) => (shown?.email === invite.inviteeEmail ? undefined : shown));
      await load();
    } catch (caught) {
      setError(failed(caught));
    }
  }

  return (
    <section aria-label="Members">
      <h1>Members</h1>
      <Alert message={error} />
      <form className="secret-form" aria-label="Invite" onSubmit={invite}>
        <label>
          E-mail
          <input type="text" inputMode="email" autoCapitalize="off" spellCheck={false} maxLength={254} required value={email} onChange={(event) => setEmail(event.target.value)} disabled={busy} />
        </label>
        <label>
          Role
          <select value={roleId} onChange={(event) => setRoleId(event.target.value)} disabled={busy}>
            {roles.map((role) => (
              <option key={role.id} value={role.id}>
                {role.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy || !roleId}>
          Invite
        </button>
      </form>
      {link && (
        <div className="invite-link" role="status">
          <p>
            Send this link to {link.email}; it works once, for 14 days. It is shown only now. After they join, share end-to-end encrypted apps with them here (Share E2EE app); server-side apps through the REST API or the CLI.
          </p>
          <code>{link.url}</code>
        </div>
      )}
      {shared && (
        <p role="status" className="notice">
          {shared}
        </p>
      )}
      {members && (
        <table>
          <thead>
            <tr>
              <th>E-mail</th>
              <th>Name</th>
              <th>Role</th>
              <th>Joined</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <tr key={m.id} data-member={m.email}>
                <td>{m.email}</td>
                <td>{m.fullName ?? ''}</td>
                <td>{m.role?.name ?? '(none)'}</td>
                <td>{m.createdAt.slice(0, 10)}</td>
                <td className="actions">
                  {m.email !== self &&
                    (sharingWith === m.id ? (
                      <ShareE2eeApp
                        session={session}
                        member={m}
                        failed={failed}
                        onDone={(message) => {
                          setSharingWith(undefined);
                          setShared(message);
                        }}
                      />
                    ) : (
                      <button type="button" className="link" onClick={() => setSharingWith(m.id)}>
                        Share E2EE app
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {invites.length > 0 && (
        <>
          <h2>Pending invites</h2>
          <table>
            <thead>
              <tr>
                <th>E-mail</th>
                <th>Role</th>
                <th>Expires</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {invites.map((i) => (
                <tr key={i.id} data-invite={i.inviteeEmail}>
                  <td>{i.inviteeEmail}</td>
                  <td>{i.role?.name ?? ''}</td>
                  <td>{i.expiresAt.slice(0, 10)}</td>
                  <td className="actions">
                    <button type="button" className="link" onClick={() => void cancelInvite(i)}>
                      Cancel invite
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
