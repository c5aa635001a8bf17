import { signUp } from '../actions';

export default async function SignUp({ searchParams }: { searchParams: Promise<{ error?: string }> }) {
  const { error } = await searchParams;
  return (
    <>
      <h1>Sign up</h1>
      {error && <p className="error">{error}</p>}
      <form action={signUp}>
        <label htmlFor="name">Name</label>
        <input id="name" name="name" required maxLength={80} autoComplete="name" />
        <label htmlFor="email">E-mail</label>
        <input id="email" name="email" type="email" required autoComplete="email" />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" required minLength={8} autoComplete="new-password" />
        <button type="submit" className="primary">
          Sign up
        </button>
      </form>
    </>
  );
}
