// The new organisation's recovery phrase, shown once: the only way back in after a forgotten
// password (`coffer account recover`). The server never had it; this page forgets it on Continue.
import { useEffect, useState } from 'react';

export function RecoveryPhrase({ phrase, organisationName, onContinue, busy }: { phrase: string; organisationName: string; onContinue: () => void; busy: boolean }) {
  const [stored, setStored] = useState(false);
  // Leaving now loses the phrase for good: the browser asks first.
  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, []);
  const words = phrase.split(' ');
  return (
    <section aria-label="Recovery phrase">
      <h2>Your recovery phrase for {organisationName}</h2>
      <p>Write these 24 words down and keep them somewhere safe. If you forget your password, they are the only way to recover your access; no one, not even an owner or the server, can do it for you. This page shows them only now (later, coffer account phrase shows them again with your password).</p>
      <ol className="phrase">
        {words.map((word, index) => (
          <li key={index}>{word}</li>
        ))}
      </ol>
      <label className="check">
        <input type="checkbox" checked={stored} onChange={(event) => setStored(event.target.checked)} />
        I have stored my recovery phrase
      </label>
      <button type="button" className="primary" disabled={!stored || busy} onClick={onContinue}>
        {busy ? 'Opening…' : 'Continue'}
      </button>
    </section>
  );
}
