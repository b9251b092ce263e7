import type { Dispatch, SetStateAction } from 'react';

export interface PasswordPair {
  password: string;
  confirmation: string;
}

/** A password chosen twice (or, for an existing account joining another organisation, its password twice). */
export function NewPassword({ value, onChange, disabled, label = 'Password' }: { value: PasswordPair; onChange: Dispatch<SetStateAction<PasswordPair>>; disabled: boolean; label?: string }) {
  return (
    <>
      <label>
        {label}
        <input type="password" autoComplete="new-password" required minLength={8} value={value.password} onChange={(event) => onChange({ ...value, password: event.target.value })} disabled={disabled} />
      </label>
      <label>
        Repeat the password
        <input type="password" autoComplete="new-password" required value={value.confirmation} onChange={(event) => onChange({ ...value, confirmation: event.target.value })} disabled={disabled} />
      </label>
    </>
  );
}
