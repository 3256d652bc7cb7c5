import type { Logger } from 'pino';

/** A text message to a patient's phone. */
export interface TextMessage {
  to: string;
  body: string;
}

/**
 * Where text messages go. No provider is wired in yet: a deployment that signs a contract with one (Twilio,
 * MessageBird, a national gateway) implements `send` over its API, keeping the same contract as email — it
 * throws when the provider refused the message, so the job retries, and returns once it was accepted.
 */
export interface SmsTransport {
  send(message: TextMessage): Promise<void>;
}

/** Development: the message is logged (to the last four digits of the number) and not sent. */
export function logOnlySms(log: Logger): SmsTransport & { sent: TextMessage[] } {
  const sent: TextMessage[] = [];
  return {
    sent,
    async send(message) {
      sent.push(message);
      log.info({ to: `…${message.to.slice(-4)}`, length: message.body.length }, 'text message not sent: no SMS provider configured');
    },
  };
}
