// Compiled by test/package.test.ts as an ES module consumer of the built package.
import express from 'express';
import { createTracker, IdstitchError, type TrackerOptions, type TrackerStats } from 'idstitch';
import { identifyUser, resetUser, tracking, type TrackingMiddleware } from 'idstitch/express';

const options: TrackerOptions = { token: 'token', cookie: { name: 'did', maxAge: null }, onError: (error) => void error.code };
const middleware: TrackingMiddleware = tracking(options);
const shared: TrackingMiddleware = tracking(createTracker({ apiHost: 'http://127.0.0.1:7600' }));
const app = express();
app.use(middleware, shared);
app.get('/', (req, res) => {
  req.track('Viewed Home', { plan: 'pro' });
  const linked: string | undefined = identifyUser(req, 'u1');
  resetUser(req);
  res.send(linked);
});
// @ts-expect-error the event name is a string
app.get('/bad', (req) => req.track(42));
const stats: TrackerStats = middleware.tracker.stats();
const code: string = new IdstitchError('IDSTITCH_INTERNAL', 'x').code;
void stats;
void code;

// idstitch/collector: the local collector and the doctor.
import { runDoctor, startCollector, type Collector, type DoctorReport } from 'idstitch/collector';
const collector: Promise<Collector> = startCollector({ port: 0, storage: ':memory:' });
const report: Promise<DoctorReport> = runDoctor({ url: 'http://127.0.0.1:7600' });
// @ts-expect-error the port is a number
void startCollector({ port: '7600' });
void collector;
void report;

// getUserId and privacy.consent receive the request: annotated with Express's own type, or inferred.
import type { Request } from 'express';
void tracking({ getUserId: (req: Request) => req.get('x-user'), privacy: { consent: (req) => req.headers.cookie !== undefined } });
void tracking({ getUserId: (req) => req.headers['x-user'] });
// @ts-expect-error consent must answer a boolean
void tracking({ privacy: { consent: () => 'yes' } });
