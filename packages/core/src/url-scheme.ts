/** The lower-cased scheme of a `scheme://…` URL, or `undefined` when `spec` is not one. */
export function schemeOf(spec: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1]?.toLowerCase();
}
