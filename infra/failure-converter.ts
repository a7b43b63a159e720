/**
 * Failure messages and stack traces may name a person ("ID number 4407… not found in the roster"), so the
 * worker (inside the workflow sandbox too) and every client encode them as a payload, which the payload
 * codec then encrypts: the Temporal server stores no failure text in plain. Loaded by path
 * (DataConverter.failureConverterPath), so this module imports nothing but @temporalio/common.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
