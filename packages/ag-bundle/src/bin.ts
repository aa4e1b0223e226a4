import { runBin } from '@ag/core';
import { main } from './cli.js';

runBin(main);
