// Compiled by test/package.test.ts as an ES module consumer of idstitch/nest.
import { Controller, Get, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IdstitchModule, Tracker, Tracking, type RequestTracking } from 'idstitch/nest';

@Controller()
class AppController {
  @Get('pricing') pricing(@Tracking() t: RequestTracking) {
    t.track('Viewed Pricing', { plan: 'pro' });
    const deviceId: string | undefined = t.deviceId;
    return deviceId;
  }
  @Post('login') login(@Tracking() t: RequestTracking) {
    const linked: string | undefined = t.identify('u1');
    return linked;
  }
  @Post('logout') logout(@Tracking() t: RequestTracking) {
    t.reset();
    // @ts-expect-error the event name is a string
    t.track(42);
  }
}

@Module({ imports: [IdstitchModule.forRoot({ token: 'token', region: 'EU' })], controllers: [AppController] })
class AppModule {}

@Module({ imports: [IdstitchModule.forRootAsync({ useFactory: async () => ({ token: 'token' }) })] })
export class AsyncModule {}

const app = await NestFactory.create(AppModule);
const tracker: Tracker = app.get(Tracker);
void tracker.flush();
