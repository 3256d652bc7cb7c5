/**
 * The attachments of a raw message as the mail catcher caught it (`CaughtMail.raw`): each MIME part that names
 * a file, transfer-decoded. Enough MIME for what the platform sends (nodemailer's multipart/mixed, base64 or
 * quoted-printable parts); tests read what a recipient's mail program would show as attached files.
 */
export function attachments(raw: string): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  const boundaries = [...raw.matchAll(/boundary="?([^";\r\n]+)"?/gi)].map((m) => m[1]!);
  const parts = boundaries.reduce((acc, b) => acc.flatMap((p) => p.split(`--${b}`)), [raw]);
  for (const part of parts) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const headers = part.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
    const name = /filename="?([^";\r\n]+)"?/i.exec(headers)?.[1];
    if (!name || /^content-type:\s*multipart\//im.test(headers)) continue;
    const body = part.slice(split).replace(/^\r?\n\r?\n/, '');
    found.set(
      name,
      /^content-transfer-encoding:\s*base64/im.test(headers)
        ? Buffer.from(body.replace(/\s+/g, ''), 'base64')
        : Buffer.from(
            body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
            'latin1',
          ),
    );
  }
  return found;
}
