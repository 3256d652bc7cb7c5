import { DOMParser } from '@xmldom/xmldom';

/**
 * Reading SAML and metadata XML: one strict parser and a few namespace-aware helpers. Elements are matched by
 * namespace URI and local name, never by prefix (an attacker chooses prefixes), and only among direct children
 * where the schema puts them, so an element smuggled deeper (inside an Advice, an Extensions block, a second
 * assertion) is never picked up by a descendant search.
 */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export class XmlRefused extends Error {}

/**
 * Parses a whole document, refusing DTDs (entity expansion and external entities have no place in SAML) and any
 * well-formedness error, including text or elements after the root, which lax parsers silently drop.
 */
export function parseStrictXml(text: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new XmlRefused('a DOCTYPE or entity declaration is not allowed');
  const problems: string[] = [];
  const doc = new DOMParser({
    locator: {},
    errorHandler: {
      warning: (msg: string) => problems.push(msg),
      error: (msg: string) => problems.push(msg),
      fatalError: (msg: string) => problems.push(msg),
    },
  }).parseFromString(text, 'text/xml');
  if (problems.length > 0) throw new XmlRefused(`not well-formed XML: ${firstLine(problems[0]!)}`);
  const root = doc.documentElement;
  if (!root) throw new XmlRefused('the document has no root element');
  let elements = 0;
  for (let n = doc.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) elements++;
    else if (n.nodeType === 3 && (n.nodeValue ?? '').trim() !== '') throw new XmlRefused('text outside the root element');
  }
  if (elements !== 1) throw new XmlRefused('the document has more than one root element');
  return doc;
}

export function isElement(el: Element | null | undefined, ns: string, localName: string): boolean {
  return !!el && el.namespaceURI === ns && el.localName === localName;
}

/** Direct children of `el` with this namespace and local name, in document order. */
export function childElements(el: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && isElement(n as Element, ns, localName)) out.push(n as Element);
  }
  return out;
}

/** The only such child, null when absent; more than one is an error the caller names. */
export function onlyChild(el: Element, ns: string, localName: string): Element | null {
  const found = childElements(el, ns, localName);
  if (found.length > 1) throw new XmlRefused(`more than one ${localName} in ${el.localName}`);
  return found[0] ?? null;
}

/** Text content with surrounding whitespace removed (comments are not text, so `a<!---->b` reads `ab`). */
export function textOf(el: Element | null): string | null {
  if (!el) return null;
  const t = (el.textContent ?? '').trim();
  return t === '' ? null : t;
}

/** An attribute's value, or null when the attribute is absent (not the empty string `getAttribute` gives). */
export function attr(el: Element | null, name: string): string | null {
  if (!el?.hasAttribute(name)) return null;
  return el.getAttribute(name);
}

function firstLine(msg: string): string {
  return msg
    .split('\n')[0]!
    .replace(/^\[xmldom [a-z]+\]\t?/i, '')
    .slice(0, 200);
}
