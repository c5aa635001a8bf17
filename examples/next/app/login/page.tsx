export default async function LogIn({ searchParams }: { searchParams: Promise<{ error?: string }> }) {
  const { error } = await searchParams;
  return (
    <>
      <h1>Log in</h1>
      {error && <p className="error">{error}</p>}
      {/* A plain form posting to a Route Handler (app/api/login/route.ts), wrapped in withTracking. */}
      <form method="post" action="/api/login">
        <label htmlFor="email">E-mail</label>
        <input id="email" name="email" type="email" required autoComplete="email" />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" required autoComplete="current-password" />
        <button type="submit" className="primary">
          Log in
        </button>
      </form>
    </>
  );
}
