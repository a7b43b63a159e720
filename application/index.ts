/**
 * The application layer: use cases called alike by the command line (client/commands/) and the web console
 * (console/routes/). Each takes an explicit ledger connection and, where it needs one, a Temporal client;
 * none reads the environment.
 */
export {
  CampaignNotRunning,
  clearDrillYear,
  DRILL_LEAD_MS,
  decideRoster,
  startCampaignYear,
  submitRosterFile,
} from './campaigns';
export { importList, listSubmissions, type SubmissionRow } from './lists';
export { explainPerson, NoCampaignForPerson, verifyLog } from './audit';
export { makeProgressReport } from './reports';
