import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { ControlDB } from '../controlplane/schema.js';

/**
 * Sends each notification at most once, however often its job runs.
 *
 * A job is delivered at least once: its worker may die after the relay accepted the message and before the job
 * was acknowledged, and the job then runs again. Exactly-once delivery over SMTP does not exist (the relay's
 * "250 OK" and our record of it cannot be one atomic step), so we choose which side of the gap to stand on:
 *
 * 1. claim: a row keyed by the message (clinic, what it is about, channel) is inserted and committed *before*
 *    the send. A run that finds the row already there does not send.
 * 2. send, with a Message-ID derived from the same key.
 * 3. on the relay's acceptance the row becomes `sent`; if the relay refused (or could not be reached) the claim
 *    is deleted and the job fails, so its retry sends.
 *
 * A crash anywhere after step 3 — the case that matters, since the acknowledgement comes last — is harmless:
 * the retry finds `sent`. Only a crash *during* the SMTP exchange leaves a `claimed` row with no verdict; the
 * retry marks it `uncertain` and does not resend (a duplicate reminder is what patients notice and complain of;
 * the row lets an operator find the rare lost one), and the deterministic Message-ID makes any duplicate
 * that still got through (a relay that accepted after our timeout) recognisable as the same message to the
 * receiving mail system. The row is written in the control plane, where the queue is: it holds ids, not PHI.
 */
export type LedgerOutcome = 'sent' | 'already-sent' | 'uncertain';

export class SentLedger {
  constructor(
    private readonly control: Kysely<ControlDB>,
    private readonly mailDomain: string,
    private readonly log: Logger,
  ) {}

  /** The Message-ID of a message: the same for every attempt to send it. */
  messageId(clinicId: string, key: string, channel: 'email' | 'sms'): string {
    const digest = createHash('sha256').update(`${clinicId}\n${key}\n${channel}`).digest('hex').slice(0, 40);
    return `<${digest}@${this.mailDomain}>`;
  }

  async once(
    m: { clinicId: string; key: string; channel: 'email' | 'sms'; jobId: string | null },
    send: (messageId: string) => Promise<void>,
  ): Promise<LedgerOutcome> {
    const messageId = this.messageId(m.clinicId, m.key, m.channel);
    const claimed = await this.control
      .insertInto('notification_ledger')
      .values({ clinic_id: m.clinicId, key: m.key, channel: m.channel, message_id: messageId, job_id: m.jobId })
      .onConflict((oc) => oc.doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!claimed) {
      const row = await this.control
        .updateTable('notification_ledger')
        .set({ state: sql`case when state = 'claimed' then 'uncertain' else state end` })
        .where('clinic_id', '=', m.clinicId)
        .where('key', '=', m.key)
        .where('channel', '=', m.channel)
        .returning('state')
        .executeTakeFirst();
      if (row?.state === 'uncertain') {
        this.log.warn({ clinicId: m.clinicId, key: m.key, channel: m.channel }, 'an earlier attempt died while sending; not sending again');
        return 'uncertain';
      }
      return 'already-sent';
    }
    try {
      await send(messageId);
    } catch (err) {
      // Refused or unreachable: nothing was accepted, so the claim goes and the job's retry may send.
      await this.control
        .deleteFrom('notification_ledger')
        .where('clinic_id', '=', m.clinicId)
        .where('key', '=', m.key)
        .where('channel', '=', m.channel)
        .execute();
      throw err;
    }
    await this.control
      .updateTable('notification_ledger')
      .set({ state: 'sent', sent_at: sql`now()` })
      .where('clinic_id', '=', m.clinicId)
      .where('key', '=', m.key)
      .where('channel', '=', m.channel)
      .execute();
    return 'sent';
  }
}
