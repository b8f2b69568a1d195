import { useEffect, useState, type FormEvent } from "react";
import { ApiError, api, type SessionInfo } from "../api";

/** A key for a session cookie: the key itself is never kept by the page. */
export function SignInPage({
  onSignedIn,
  problem,
}: {
  onSignedIn: (info: SessionInfo) => void;
  problem: string | null;
}) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // A one-time link (`make up` prints one) carries its token in the fragment, which never
  // reaches a server log: use it once, then drop it from the address bar. The link may also
  // arrive while this page is open (only the fragment changes then).
  useEffect(() => {
    const consumeLink = () => {
      const link = new URLSearchParams(window.location.hash.slice(1)).get("link");
      if (!link) return;
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      setBusy(true);
      setError(null);
      api.signInWithLink(link).then(onSignedIn, (e: unknown) => {
        setError(e instanceof ApiError ? e.message : "Sign-in failed");
        setBusy(false);
      });
    };
    consumeLink();
    window.addEventListener("hashchange", consumeLink);
    return () => window.removeEventListener("hashchange", consumeLink);
  }, [onSignedIn]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    api.signIn(key.trim()).then(
      (info) => {
        setKey("");
        onSignedIn(info);
      },
      (e: unknown) => {
        setError(e instanceof ApiError ? e.message : "Sign-in failed");
        setBusy(false);
      },
    );
  };

  return (
    <main>
      <form className="signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Tracklane</h1>
        {problem && <p role="status" className="error">{problem}</p>}
        <p className="muted">
          Use an API key: <code>make up</code> prints one, and <em>Settings → API keys</em> makes more.
        </p>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key" name="api-key" type="password" autoComplete="off" required value={key}
          onChange={(e) => setKey(e.target.value)} aria-describedby={error ? "signin-error" : undefined}
        />
        {error && <p id="signin-error" role="alert" className="error">{error}</p>}
        <button className="primary" type="submit" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
