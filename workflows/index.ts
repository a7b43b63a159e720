// The workflow bundle's entry point: every workflow type the worker serves.
export { StackCheckWorkflow } from './stack-check';
export { AnnualCampaignWorkflow } from './campaign';
export { MonthlyReconciliationWorkflow } from './reconciliation';
