/** Stub: filled in by the fix for issue 18, point 8. */
export const FUNCTION_URL_UNSUPPORTED_REGIONS: Readonly<Record<string, string>> = {};
