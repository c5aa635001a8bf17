import type { ReactNode } from 'react';
import { currentUser } from '../lib/auth';
import { logOut } from './actions';
import './globals.css';

export const metadata = { title: 'idstitch Next.js example' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  const collector = process.env.IDSTITCH_API_HOST;
  return (
    <html lang="en">
      <body>
        <header>
          <strong>Acme (idstitch Next.js example)</strong>
          <a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/whoami">Who am I</a>
          {user ? (
            <form action={logOut}>
              <button type="submit" id="logout">
                Log out
              </button>
            </form>
          ) : (
            <>
              <a href="/signup">Sign up</a> <a href="/login">Log in</a>
            </>
          )}
          {collector && (
            <a href={`${collector}/`} target="_blank" rel="noopener">
              Collector ↗
            </a>
          )}
          <span className="who">
            {user ? (
              <>
                Signed in as {user.name} (<code>{user.id}</code>)
              </>
            ) : (
              'Anonymous visitor'
            )}
          </span>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
