// A static page: Next prerenders it at build time and serves it with long-lived shared caching.
// The proxy still gives a first-time visitor a device id here, and marks that response private, so
// a CDN never hands one visitor's id to everyone else.
export default function About() {
  return (
    <>
      <h1>About</h1>
      <p>A page with nothing to track, prerendered at build time.</p>
    </>
  );
}
