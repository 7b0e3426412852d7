// Prints how long a server takes from spawn to its printed address (packaging/test.sh).
import { startComplyd } from "complyd";

const times = [];
for (let i = 0; i < 10; i++) {
  const server = await startComplyd();
  times.push(server.startedMs);
  await server.stop();
}
times.sort((a, b) => a - b);
console.log(`# packaging: node: 10 servers started, ready in ${times[5].toFixed(0)} ms (median), ${times[9].toFixed(0)} ms (slowest)`);
