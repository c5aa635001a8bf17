// The tracker's counters (tracked, delivered, queued, dropped by reason, identity), for the curious
// and for the end-to-end test. Not something to expose in a real app.
import { tracker } from '../../../lib/tracking';

export const dynamic = 'force-dynamic';

export function GET(): Response {
  return Response.json(tracker.stats());
}
