// The worker thread of pull-floor.ts's undici-write-2 mode. On Node.js 20 a
// worker does not get the hooks the parent's `--import tsx` registered before
// its own entry loads ("Unknown file extension .ts"), so this entry is plain
// JavaScript: it registers tsx, then runs the same receiving code.
import { register } from 'tsx/esm/api';

register();
const { receiveAsWorker } = await import('./pull-floor.ts');
await receiveAsWorker();
