// A service of your own in a few lines: it listens, registers as "Greeter", answers
// heartbeats, and deregisters on Ctrl-C. It registers with the token in ROSTER_TOKEN.
import { startService } from 'roster/service';

const service = await startService({
  name: 'Greeter',
  port: Number(process.env.ROSTER_PORT ?? 7001), // ROSTER_PORT, as every Roster service takes it
  handler: (_req, res) => res.end('hello from Greeter\n'),
});
console.log(`Greeter is at ${service.url}`);
