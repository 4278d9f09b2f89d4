// A service that requires Greeter: the registry tells it where Greeter is, and tells it
// again whenever a Greeter instance comes or goes. It registers with the token in ROSTER_TOKEN.
import { startService } from 'roster/service';

const service = await startService({
  name: 'Caller',
  port: Number(process.env.ROSTER_PORT ?? 7002), // ROSTER_PORT, as every Roster service takes it
  requires: ['Greeter'],
  handler: async (_req, res) => {
    try {
      const greeter = service.client.provider('Greeter');
      const greeting = await (await fetch(greeter)).text();
      res.end(`Greeter said: ${greeting}`);
    } catch (error) {
      res.writeHead(503).end(`${error.message}\n`);
    }
  },
});
console.log(`Caller is at ${service.url}; Greeter instances known: ${JSON.stringify(service.client.providers('Greeter'))}`);
service.client.on('change', ({ service: name, added, removed, revision }) => {
  for (const url of added) console.log(`Caller heard: ${name} added at ${url} (revision ${revision})`);
  for (const url of removed) console.log(`Caller heard: ${name} removed at ${url} (revision ${revision})`);
});
