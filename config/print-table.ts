/** Prints docs/configuration.md's tables from the schema: `npx tsx config/print-table.ts`. */
import { settingsMarkdown } from './settings';

process.stdout.write(settingsMarkdown());
