/** True for an `http://` or `https://` address: a web site named as an origin, or one of its pages. */
export function isWebUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}
