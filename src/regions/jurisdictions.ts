/**
 * What each jurisdiction the platform serves requires of where data lives and how long copies of it last.
 * This is product knowledge (residency and compliance are what the platform sells), so it is written here
 * and read by the config loader (backup retention defaults), the backup runner, the deletion certificate and
 * the compliance report, rather than repeated in each.
 *
 * A jurisdiction not listed here may still be configured (a region's jurisdiction is any upper-case code),
 * but then its backup retention must be given explicitly and its breach clock reads "not configured".
 */

export interface Jurisdiction {
  code: string;
  /** The law the report names for it. */
  law: string;
  /** How soon affected people and the authority must be told of a breach, as the law words it. */
  breachNotification: { deadline: string; hours: number | null; notify: string };
  /** How long a region's backups are kept unless its own setting says otherwise (days). */
  backupRetentionDays: number;
}

export const JURISDICTIONS: Readonly<Record<string, Jurisdiction>> = {
  US: {
    code: 'US',
    law: 'HIPAA (45 CFR 164.400–414, Breach Notification Rule)',
    breachNotification: {
      deadline: 'without unreasonable delay and no later than 60 calendar days after discovery',
      hours: 60 * 24,
      notify: 'affected individuals, HHS (within 60 days when 500 or more are affected), media for 500+ in a state',
    },
    backupRetentionDays: 35,
  },
  EU: {
    code: 'EU',
    law: 'GDPR (Regulation (EU) 2016/679, Articles 33 and 34)',
    breachNotification: {
      deadline: 'without undue delay and, where feasible, not later than 72 hours after becoming aware',
      hours: 72,
      notify: 'the competent supervisory authority; data subjects when the risk to them is high',
    },
    backupRetentionDays: 30,
  },
  CA: {
    code: 'CA',
    law: 'PIPEDA (Breach of Security Safeguards Regulations, SOR/2018-64)',
    breachNotification: {
      deadline: 'as soon as feasible after determining that a breach creates a real risk of significant harm',
      hours: null,
      notify: 'the Office of the Privacy Commissioner of Canada and affected individuals',
    },
    backupRetentionDays: 35,
  },
};

export function jurisdiction(code: string): Jurisdiction | undefined {
  return Object.hasOwn(JURISDICTIONS, code) ? JURISDICTIONS[code] : undefined;
}
