// Compiled by test/package.test.ts as a CommonJS consumer of the built package.
import express = require('express');
import idstitch = require('idstitch');
import adapter = require('idstitch/express');

const middleware: adapter.TrackingMiddleware = adapter.tracking({ token: 'token' });
const app = express();
app.use(middleware);
app.get('/', (req, res) => {
  req.track('Viewed Home');
  adapter.identifyUser(req);
  adapter.resetUser(req);
  res.send('ok');
});
// @ts-expect-error properties are an object
app.get('/bad', (req) => req.track('E', 'not an object'));
const tracker: idstitch.Tracker = idstitch.createTracker({ region: 'EU' });
void tracker.flush();

import collector = require('idstitch/collector');
const started: Promise<collector.Collector> = collector.startCollector({ port: 0 });
void started;
// @ts-expect-error storage is a path string
void collector.startCollector({ storage: 42 });
