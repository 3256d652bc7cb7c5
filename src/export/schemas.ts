import { z } from 'zod';
import { idSchema } from '../ids.js';

/** The HTTP shapes of break-glass export, shared by the clinic's and the operator's routes. */
export const ExportRequestView = z.object({
  id: z.string(),
  reason: z.string(),
  requestedBy: z.string(),
  requestedAs: z.enum(['operator', 'clinic']),
  status: z.enum(['pending', 'approved', 'denied', 'downloaded', 'expired']),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  decisionNote: z.string().nullable(),
  expiresAt: z.string().nullable(),
  downloadedAt: z.string().nullable(),
  createdAt: z.string(),
});

export const NewExportRequest = z.strictObject({
  reason: z.string().trim().min(10, 'say why, in at least 10 characters').max(500),
});

export const ExportDecision = z.strictObject({ note: z.string().trim().max(500).optional() });

export const DownloadLink = z.object({
  token: z.string().describe('shown once; valid for one download, for 15 minutes and within the approval'),
  expiresAt: z.string(),
});

/** The token travels in a body, never in a URL (logs, history, proxies). */
export const DownloadBody = z.strictObject({ token: z.string().min(1).max(100) });

export const RequestParams = z.strictObject({ exportRequestId: idSchema('exportRequest') });
